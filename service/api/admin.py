"""Admin curation: parse, call a use case, render. The routes' auth is "admin": the endpoint
wrapper has checked the grant before a handler runs, and the principal is the write's actor."""

from __future__ import annotations

from aiohttp import web

from service.api import params
from service.api.bodies import parse_body
from service.catalog import render
from service.models.category import Category, CategoryCreate, CategoryPatch
from service.models.listing import Listing, ListingCreate, ListingPatch
from service.runtime.appkeys import ADMIN_GRANTS, AUDIT_LOG, PRINCIPAL, WRITES

_NO_STORE = {"Cache-Control": "no-store"}


def _entity(model: Category | Listing, *, status: int, location: str | None = None) -> web.Response:
    body = render.body(model)
    headers = {**_NO_STORE, "ETag": render.entity_etag(model.version, body)}
    if location:
        headers["Location"] = location
    return web.Response(body=body, status=status, content_type="application/json", headers=headers)


async def create_category(request: web.Request) -> web.Response:
    actor = request[PRINCIPAL]
    data = await parse_body(request, CategoryCreate)
    created = await request.app[WRITES].create_category(data, actor=actor.sub)
    return _entity(created, status=201, location=f"/v1/categories/{created.id}")


async def update_category(request: web.Request) -> web.Response:
    actor = request[PRINCIPAL]
    category_id = params.ref(request, "id")
    version = params.expected_version(request)
    patch = await parse_body(request, CategoryPatch)
    updated = await request.app[WRITES].update_category(
        category_id, patch, expected_version=version, actor=actor.sub
    )
    return _entity(updated, status=200)


async def delete_category(request: web.Request) -> web.Response:
    actor = request[PRINCIPAL]
    await request.app[WRITES].delete_category(params.ref(request, "id"), actor=actor.sub)
    return web.Response(status=204, headers=_NO_STORE)


async def create_listing(request: web.Request) -> web.Response:
    actor = request[PRINCIPAL]
    data = await parse_body(request, ListingCreate)
    created = await request.app[WRITES].create_listing(data, actor=actor.sub)
    return _entity(created, status=201, location=f"/v1/listings/{created.id}")


async def update_listing(request: web.Request) -> web.Response:
    actor = request[PRINCIPAL]
    listing_id = params.ref(request, "id")
    version = params.expected_version(request)
    patch = await parse_body(request, ListingPatch)
    updated = await request.app[WRITES].update_listing(
        listing_id, patch, expected_version=version, actor=actor.sub
    )
    return _entity(updated, status=200)


async def delete_listing(request: web.Request) -> web.Response:
    actor = request[PRINCIPAL]
    await request.app[WRITES].delete_listing(params.ref(request, "id"), actor=actor.sub)
    return web.Response(status=204, headers=_NO_STORE)


async def grant_admin(request: web.Request) -> web.Response:
    actor = request[PRINCIPAL]
    await request.app[ADMIN_GRANTS].grant(params.sub(request), actor=actor.sub)
    return web.Response(status=204, headers=_NO_STORE)


async def revoke_admin(request: web.Request) -> web.Response:
    actor = request[PRINCIPAL]
    await request.app[ADMIN_GRANTS].revoke(params.sub(request), actor=actor.sub)
    return web.Response(status=204, headers=_NO_STORE)


async def list_audit(request: web.Request) -> web.Response:
    limit, cursor = params.page(request)
    found = await request.app[AUDIT_LOG].page(limit=limit, cursor=cursor)
    return web.Response(
        body=render.page(found.items, found.next_cursor),
        content_type="application/json",
        headers=_NO_STORE,
    )
