"""Verification of Cognito access tokens: RS256 only, keys only from the configured JWKS.

Every refusal is `Unauthenticated(reason)` with a reason from `FAILURE_REASONS`, reported once to
the observer. Neither the token nor any part of it goes into a message or a log line.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Final

import jwt

from service.auth.jwks import JwksCache
from service.auth.observer import AuthObserver
from service.auth.principal import Principal
from service.errors import Unauthenticated

_ALGORITHM: Final = "RS256"
# client_id and username are checked after decoding, not through pyjwt's `require`, so that an
# ID token (no client_id) is reported as the wrong kind of token rather than a missing claim.
_REQUIRED: Final = ["exp", "iat", "sub", "iss", "token_use"]
_MAX_KID_CHARS: Final = 256
# Cognito's token_use for access tokens; ID tokens say "id" and must not authorise calls.
_ACCESS_USE: Final = "access"

# Most specific first: InvalidSignatureError is a DecodeError, every one an InvalidTokenError.
_REASONS: Final[tuple[tuple[type[jwt.PyJWTError], str], ...]] = (
    (jwt.ExpiredSignatureError, "expired"),
    (jwt.ImmatureSignatureError, "not_yet_valid"),
    (jwt.InvalidIssuerError, "wrong_issuer"),
    (jwt.MissingRequiredClaimError, "missing_claim"),
    (jwt.InvalidSignatureError, "bad_signature"),
    (jwt.InvalidAlgorithmError, "alg_not_allowed"),
    (jwt.InvalidAudienceError, "wrong_client"),
)


def _reason_for(exc: jwt.PyJWTError) -> str:
    for cls, reason in _REASONS:
        if isinstance(exc, cls):
            return reason
    # DecodeError, InvalidIssuedAtError (non-integer iat), InvalidSubjectError, bad `crit`...
    return "malformed"


class TokenVerifier:
    def __init__(
        self,
        jwks: JwksCache,
        *,
        issuer: str,
        client_ids: Collection[str],
        leeway: int,
        observer: AuthObserver,
        max_token_bytes: int = 8192,
    ) -> None:
        if not client_ids:
            # An empty allow-list would refuse every token; better to fail at startup.
            raise ValueError("at least one app client id is required")
        self._jwks = jwks
        self._issuer = issuer
        self._client_ids = frozenset(client_ids)
        self._leeway = leeway
        self._observer = observer
        self._max_bytes = max_token_bytes

    async def verify(self, token: str) -> Principal:
        """The principal a valid access token names, else Unauthenticated(reason)."""
        try:
            return await self._verify(token)
        except Unauthenticated as exc:
            self._observer.failure(exc.reason)
            raise

    async def _verify(self, token: str) -> Principal:
        if not token:
            raise Unauthenticated("missing")
        # Before any parsing: base64 and JSON work must not scale with what a caller sends.
        # len() counts characters, which never exceed the UTF-8 bytes; ASCII is checked next.
        if len(token) > self._max_bytes:
            raise Unauthenticated("too_large")
        if not token.isascii() or token.count(".") != 2:
            raise Unauthenticated("malformed")
        header = self._header(token)
        # Only the alg and kid are read. jku, jwk, x5u and x5c are ignored on purpose: a token
        # must never choose the key it is checked with.
        if header.get("alg") != _ALGORITHM:
            raise Unauthenticated("alg_not_allowed")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid or len(kid) > _MAX_KID_CHARS:
            raise Unauthenticated("malformed")
        key = await self._jwks.key(kid)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[_ALGORITHM],
                issuer=self._issuer,
                leeway=self._leeway,
                # Access tokens carry no `aud`; client_id is checked below instead.
                options={"require": list(_REQUIRED), "verify_aud": False},
            )
        except jwt.PyJWTError as exc:
            raise Unauthenticated(_reason_for(exc)) from exc
        return self._principal(claims)

    @staticmethod
    def _header(token: str) -> dict[str, Any]:
        try:
            return jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthenticated("malformed") from exc

    def _principal(self, claims: Mapping[str, Any]) -> Principal:
        if claims["token_use"] != _ACCESS_USE:
            raise Unauthenticated("wrong_token_use")
        client_id = claims.get("client_id")
        if not isinstance(client_id, str):
            raise Unauthenticated("missing_claim")
        if client_id not in self._client_ids:
            raise Unauthenticated("wrong_client")
        sub, username = claims["sub"], claims.get("username")
        if not sub or not isinstance(username, str) or not username:
            raise Unauthenticated("missing_claim")
        return Principal(
            sub=sub,
            username=username,
            client_id=client_id,
            groups=_strings(claims.get("cognito:groups", [])),
            scopes=_scopes(claims.get("scope", "")),
        )


def _strings(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise Unauthenticated("malformed")
    return tuple(value)


def _scopes(value: object) -> tuple[str, ...]:
    if not isinstance(value, str):
        raise Unauthenticated("malformed")
    return tuple(value.split())
