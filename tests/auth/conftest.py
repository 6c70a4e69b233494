"""Auth fixtures: a counting JWKS server on loopback, real RSA keys, a verifier wired to them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives.asymmetric import rsa

from service.auth.jwks import JwksCache
from service.auth.tokens import TokenVerifier
from tests.auth.support import (
    CLIENT_ID,
    ISSUER,
    LEEWAY,
    MIN_INTERVAL,
    TTL,
    Auth,
    FakeClock,
    JwksServer,
    RecordingObserver,
    new_rsa_key,
    public_jwk,
)

AiohttpServer = Callable[[web.Application], Awaitable[TestServer]]


@pytest.fixture(scope="session")
def trusted_key() -> rsa.RSAPrivateKey:
    return new_rsa_key()


@pytest.fixture(scope="session")
def attacker_key() -> rsa.RSAPrivateKey:
    return new_rsa_key()


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest_asyncio.fixture
async def jwks_server(aiohttp_server: AiohttpServer, trusted_key: rsa.RSAPrivateKey) -> JwksServer:
    served = JwksServer(keys=[public_jwk(trusted_key, "k1")])
    served.server = await aiohttp_server(served.app())
    return served


MakeAuth = Callable[..., Auth]


@pytest.fixture
def make_auth(http: aiohttp.ClientSession, jwks_server: JwksServer) -> MakeAuth:
    def make(*, url: str | None = None, **cache_options: Any) -> Auth:
        clock, observer = FakeClock(), RecordingObserver()
        options: dict[str, Any] = {
            "ttl_s": TTL,
            "min_refresh_interval_s": MIN_INTERVAL,
            "observer": observer,
            "clock": clock,
            **cache_options,
        }
        cache = JwksCache(http, url or jwks_server.url, **options)
        verifier = TokenVerifier(
            cache, issuer=ISSUER, client_ids=[CLIENT_ID], leeway=LEEWAY, observer=observer
        )
        return Auth(jwks_server, clock, observer, cache, verifier)

    return make


@pytest.fixture
def auth(make_auth: MakeAuth) -> Auth:
    return make_auth()
