"""Who is calling: the bearer token's principal, and whether it holds an admin grant.

Run by the endpoint wrapper of each route as the route table declares (`Route.auth`), never by
a handler: a handler reads the principal the wrapper published under `PRINCIPAL`.
"""

from __future__ import annotations

from typing import Literal

from aiohttp import web

from service import errors
from service.auth.principal import Principal
from service.runtime.appkeys import ADMIN_GRANTS, METRICS, VERIFIER

Auth = Literal["public", "user", "admin"]


async def authenticate(request: web.Request) -> Principal:
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
    return await request.app[VERIFIER].verify(token.strip())


async def authorise_admin(request: web.Request, principal: Principal) -> None:
    try:
        await request.app[ADMIN_GRANTS].require(principal.sub)
    except errors.Forbidden:
        request.app[METRICS].auth.failure("forbidden")
        raise
