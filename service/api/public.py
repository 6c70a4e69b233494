"""Public reads: no token, served through the cache."""

from __future__ import annotations

from aiohttp import web

from service.api import params
from service.api.responses import cached, public_cache_control
from service.appkeys import READS, SETTINGS


def _cc(request: web.Request) -> str:
    # Memoised by max-age: no string formatting per request.
    return public_cache_control(request.app[SETTINGS].cache_http_max_age_s)


async def list_categories(request: web.Request) -> web.Response:
    lookup = await request.app[READS].categories()
    return cached(request, lookup, cache_control=_cc(request))


async def get_category(request: web.Request) -> web.Response:
    lookup = await request.app[READS].category(params.ref(request))
    return cached(request, lookup, cache_control=_cc(request))


async def list_category_listings(request: web.Request) -> web.Response:
    ref = params.ref(request)
    limit, cursor = params.page(request)
    lookup = await request.app[READS].category_listings(ref, limit=limit, cursor=cursor)
    return cached(request, lookup, cache_control=_cc(request))


async def get_listing(request: web.Request) -> web.Response:
    lookup = await request.app[READS].listing(params.ref(request))
    return cached(request, lookup, cache_control=_cc(request))
