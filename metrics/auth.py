"""Sign-in metrics: why tokens were refused, and how JWKS refreshes went."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from metrics.labels import OTHER, clamp

FAILURE_REASONS = frozenset(
    {
        "missing",
        "malformed",
        "duplicate_header",
        "too_large",
        "alg_not_allowed",
        "unknown_kid",
        "bad_signature",
        "expired",
        "not_yet_valid",
        "wrong_issuer",
        "wrong_token_use",
        "wrong_client",
        "missing_claim",
        "jwks_unavailable",
        "forbidden",
    }
)
JWKS_OUTCOMES = frozenset({"ok", "error"})


class AuthMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self._failures = Counter(
            "hustlehub_auth_failures_total",
            "Requests refused by authentication or authorisation, by reason.",
            ["reason"],
            registry=registry,
        )
        self._jwks_refreshes = Counter(
            "hustlehub_auth_jwks_refreshes_total",
            "Fetches of the Cognito JSON Web Key Set, by outcome.",
            ["outcome"],
            registry=registry,
        )
        # Every known reason from zero, so a spike of one reason shows as a rate, not as a
        # series appearing out of nowhere.
        for reason in sorted(FAILURE_REASONS | {OTHER}):
            self._failures.labels(reason)
        for outcome in sorted(JWKS_OUTCOMES):
            self._jwks_refreshes.labels(outcome)

    def failure(self, reason: str) -> None:
        self._failures.labels(clamp(reason, FAILURE_REASONS)).inc()

    def jwks_refresh(self, outcome: str) -> None:
        self._jwks_refreshes.labels(clamp(outcome, JWKS_OUTCOMES)).inc()
