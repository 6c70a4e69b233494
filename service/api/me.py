"""The signed-in user's own profile and favourites. Paths never name another user."""

from __future__ import annotations

from aiohttp import web

from service.api import params
from service.api.auth import principal
from service.api.bodies import parse_body
from service.catalog import render
from service.models.user import ProfileUpdate
from service.runtime.appkeys import FAVOURITES, PROFILES

_PRIVATE = {"Cache-Control": "private, no-store"}


def _json(payload: bytes, status: int = 200) -> web.Response:
    return web.Response(
        body=payload, status=status, content_type="application/json", headers=_PRIVATE
    )


async def get_me(request: web.Request) -> web.Response:
    me = await principal(request)
    return _json(render.body(await request.app[PROFILES].get(me.sub)))


async def put_me(request: web.Request) -> web.Response:
    me = await principal(request)
    update = await parse_body(request, ProfileUpdate) if request.body_exists else ProfileUpdate()
    profile, created = await request.app[PROFILES].ensure(me.sub, display_name=update.display_name)
    return _json(render.body(profile), status=201 if created else 200)


async def list_favourites(request: web.Request) -> web.Response:
    me = await principal(request)
    limit, cursor = params.page(request)
    found = await request.app[FAVOURITES].page(me.sub, limit=limit, cursor=cursor)
    return _json(render.page(found.items, found.next_cursor))


async def get_favourite(request: web.Request) -> web.Response:
    me = await principal(request)
    listing_id = params.ref(request, "listing_id")
    return _json(render.body(await request.app[FAVOURITES].get(me.sub, listing_id)))


async def put_favourite(request: web.Request) -> web.Response:
    me = await principal(request)
    listing_id = params.ref(request, "listing_id")
    favourite, created = await request.app[FAVOURITES].save(me.sub, listing_id)
    return _json(render.body(favourite), status=201 if created else 200)


async def delete_favourite(request: web.Request) -> web.Response:
    me = await principal(request)
    listing_id = params.ref(request, "listing_id")
    await request.app[FAVOURITES].unsave(me.sub, listing_id)
    return web.Response(status=204, headers=_PRIVATE)
