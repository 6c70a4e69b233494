"""The signed-in user's own profile and favourites. Paths never name another user: every call
is for the principal the endpoint wrapper authenticated (the routes' auth is "user")."""

from __future__ import annotations

from aiohttp import web

from service.api import params
from service.api.bodies import parse_body
from service.catalog import render
from service.models.user import ProfileUpdate
from service.runtime.appkeys import FAVOURITES, PRINCIPAL, PROFILES

_PRIVATE = {"Cache-Control": "private, no-store"}


def _json(payload: bytes, status: int = 200) -> web.Response:
    return web.Response(
        body=payload, status=status, content_type="application/json", headers=_PRIVATE
    )


async def get_me(request: web.Request) -> web.Response:
    profile = await request.app[PROFILES].get(request[PRINCIPAL].sub)
    return _json(render.body(profile))


async def put_me(request: web.Request) -> web.Response:
    update = await parse_body(request, ProfileUpdate) if request.body_exists else ProfileUpdate()
    profile, created = await request.app[PROFILES].ensure(
        request[PRINCIPAL].sub, display_name=update.display_name
    )
    return _json(render.body(profile), status=201 if created else 200)


async def list_favourites(request: web.Request) -> web.Response:
    limit, cursor = params.page(request)
    found = await request.app[FAVOURITES].page(request[PRINCIPAL].sub, limit=limit, cursor=cursor)
    return _json(render.page(found.items, found.next_cursor))


async def get_favourite(request: web.Request) -> web.Response:
    listing_id = params.ref(request, "listing_id")
    favourite = await request.app[FAVOURITES].get(request[PRINCIPAL].sub, listing_id)
    return _json(render.body(favourite))


async def put_favourite(request: web.Request) -> web.Response:
    listing_id = params.ref(request, "listing_id")
    favourite, created = await request.app[FAVOURITES].save(request[PRINCIPAL].sub, listing_id)
    return _json(render.body(favourite), status=201 if created else 200)


async def delete_favourite(request: web.Request) -> web.Response:
    listing_id = params.ref(request, "listing_id")
    await request.app[FAVOURITES].unsave(request[PRINCIPAL].sub, listing_id)
    return web.Response(status=204, headers=_PRIVATE)
