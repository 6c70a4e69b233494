"""A stand-in Cognito for API tests: a real RS256 key, its JWKS served over HTTP on loopback,
and access tokens shaped like Cognito's (iss, client_id, token_use, sub, no aud)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives.asymmetric import rsa

POOL_ID = "us-east-1_ApiTests"
ISSUER = f"https://cognito-idp.us-east-1.amazonaws.com/{POOL_ID}"
CLIENT_ID = "api-test-client"
KID = "api-test-key"


class TokenMint:
    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk: dict[str, Any] = jwt.algorithms.RSAAlgorithm.to_jwk(
            self.key.public_key(), as_dict=True
        )
        self.jwks = {"keys": [{**jwk, "kid": KID, "use": "sig", "alg": "RS256"}]}
        self.server: TestServer | None = None
        self.jwks_url = ""

    async def start(self) -> str:
        app = web.Application()

        async def jwks(_: web.Request) -> web.Response:
            return web.json_response(self.jwks)

        app.router.add_get(f"/{POOL_ID}/.well-known/jwks.json", jwks)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()
        self.jwks_url = str(self.server.make_url(f"/{POOL_ID}/.well-known/jwks.json"))
        return self.jwks_url

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()

    def token(self, sub: str | None = None, **claims: Any) -> str:
        now = int(time.time())
        payload = {
            "iss": ISSUER,
            "sub": sub or str(uuid.uuid4()),
            "client_id": CLIENT_ID,
            "token_use": "access",
            "username": "tester",
            "scope": "aws.cognito.signin.user.admin",
            "iat": now,
            "exp": now + 3600,
            **claims,
        }
        return jwt.encode(payload, self.key, algorithm="RS256", headers={"kid": KID})
