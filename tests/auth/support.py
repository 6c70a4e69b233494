"""Keys, tokens and fakes for the auth tests: real RSA keys, tokens signed by pyjwt."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives.asymmetric import rsa

from service.auth.jwks import JwksCache
from service.auth.observer import RefreshOutcome
from service.auth.tokens import TokenVerifier
from service.errors import Unauthenticated

ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_TestPool"
CLIENT_ID = "client-under-test"
SUB = "8f0c1e2a-0000-4000-8000-000000000001"
LEEWAY = 30
TTL = 3600.0
MIN_INTERVAL = 10.0

# Marks a claim to leave out of the token entirely.
OMIT: Any = object()


def new_rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def public_jwk(key: rsa.RSAPrivateKey, kid: str, **extra: Any) -> dict[str, Any]:
    jwk: dict[str, Any] = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "use": "sig", "alg": "RS256", **extra}


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISSUER,
        "sub": SUB,
        "client_id": CLIENT_ID,
        "token_use": "access",
        "username": "ada",
        "scope": "aws.cognito.signin.user.admin",
        "cognito:groups": ["admin"],
        "iat": now,
        "exp": now + 3600,
        "jti": "jti-1",
    }
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not OMIT}


def sign(
    key: rsa.RSAPrivateKey, kid: str, headers: dict[str, Any] | None = None, /, **over: Any
) -> str:
    # Positional-only, so that a claim can never be mistaken for the headers argument.
    return jwt.encode(
        claims(**over), key, algorithm="RS256", headers={"kid": kid, **(headers or {})}
    )


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"sig") -> str:
    """A token assembled by hand, for shapes pyjwt refuses to produce."""
    return ".".join(
        (b64(json.dumps(header).encode()), b64(json.dumps(payload).encode()), b64(signature))
    )


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class RecordingObserver:
    failures: list[str] = field(default_factory=list)
    refreshes: list[RefreshOutcome] = field(default_factory=list)

    def failure(self, reason: str) -> None:
        self.failures.append(reason)

    def jwks_refresh(self, outcome: RefreshOutcome) -> None:
        self.refreshes.append(outcome)


@dataclass
class JwksServer:
    """A JWKS endpoint under the test's control that counts what it is asked."""

    keys: list[Any]  # Any: tests also serve junk entries
    requests: int = 0
    delay_s: float = 0.0
    status: int = 200
    raw_body: bytes | None = None
    chunked: bool = False  # no Content-Length: the size cap must hold while streaming
    server: TestServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("/pool/.well-known/jwks.json"))

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/pool/.well-known/jwks.json", self._serve)
        return app

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.raw_body is not None and self.chunked:
            response = web.StreamResponse(status=self.status)
            response.enable_chunked_encoding()
            await response.prepare(request)
            for start in range(0, len(self.raw_body), 8192):
                await response.write(self.raw_body[start : start + 8192])
            await response.write_eof()
            return response
        if self.raw_body is not None:
            return web.Response(body=self.raw_body, status=self.status)
        return web.json_response({"keys": self.keys}, status=self.status)


@dataclass
class Auth:
    """One verifier and everything a test needs to steer or observe it."""

    server: JwksServer
    clock: FakeClock
    observer: RecordingObserver
    cache: JwksCache
    verifier: TokenVerifier


async def assert_refused(auth: Auth, token: str, reason: str) -> Unauthenticated:
    with pytest.raises(Unauthenticated) as info:
        await auth.verifier.verify(token)
    assert info.value.reason == reason
    assert auth.observer.failures[-1] == reason
    # Neither the error nor its chained vendor cause may carry the token (or its signature).
    secret = token.rsplit(".", 1)[-1]
    if len(secret) >= 16:
        for text in (str(info.value), repr(info.value.__cause__)):
            assert secret not in text
    return info.value
