"""Who is calling: the bearer token's principal, and whether it holds an admin grant."""

from __future__ import annotations

from aiohttp import web

from service import errors
from service.appkeys import METRICS, PRINCIPAL, STORES, VERIFIER
from service.auth.principal import Principal


async def principal(request: web.Request) -> Principal:
    header = request.headers.get("Authorization")
    if header is None:
        request.app[METRICS].auth.failure("missing")
        raise errors.Unauthenticated("missing")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        request.app[METRICS].auth.failure("malformed")
        raise errors.Unauthenticated("malformed")
    found = await request.app[VERIFIER].verify(token.strip())
    request[PRINCIPAL] = found
    return found


async def admin(request: web.Request) -> Principal:
    found = await principal(request)
    # Strongly consistent: a revoked grant stops working on the next request.
    if not await request.app[STORES].users.is_admin(found.sub):
        request.app[METRICS].auth.failure("forbidden")
        raise errors.Forbidden("this action needs an admin grant")
    return found
