"""Who is calling: the bearer token's principal, and whether it holds an admin grant."""

from __future__ import annotations

from aiohttp import web

from service import errors
from service.auth.principal import Principal
from service.runtime.appkeys import ADMIN_GRANTS, METRICS, PRINCIPAL, VERIFIER


async def principal(request: web.Request) -> Principal:
    headers = request.headers.getall("Authorization", ())
    if not headers:
        request.app[METRICS].auth.failure("missing")
        raise errors.Unauthenticated("missing")
    if len(headers) > 1:
        # A proxy in front and this service could each honour a different one of them (one
        # takes the first, another the last), so neither may be trusted.
        request.app[METRICS].auth.failure("duplicate_header")
        raise errors.Unauthenticated("duplicate_header")
    header = headers[0]
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        request.app[METRICS].auth.failure("malformed")
        raise errors.Unauthenticated("malformed")
    found = await request.app[VERIFIER].verify(token.strip())
    request[PRINCIPAL] = found
    return found


async def admin(request: web.Request) -> Principal:
    found = await principal(request)
    try:
        await request.app[ADMIN_GRANTS].require(found.sub)
    except errors.Forbidden:
        request.app[METRICS].auth.failure("forbidden")
        raise
    return found
