"""What the auth layer reports, for metrics to count. Reasons are a fixed set: safe as labels."""

from __future__ import annotations

from typing import Final, Literal, Protocol

FAILURE_REASONS: Final[frozenset[str]] = frozenset(
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
    }
)

RefreshOutcome = Literal["ok", "error"]


class AuthObserver(Protocol):
    def failure(self, reason: str) -> None: ...

    def jwks_refresh(self, outcome: RefreshOutcome) -> None: ...


class NullAuthObserver:
    def failure(self, reason: str) -> None:
        pass

    def jwks_refresh(self, outcome: RefreshOutcome) -> None:
        pass
