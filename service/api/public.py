"""Public reads: no token, served through the cache."""

from __future__ import annotations

from aiohttp import web

from cache import Lookup
from service.api import params
from service.api.responses import cached, computed
from service.runtime.appkeys import PUBLIC_CACHE_CONTROL, PUBLIC_VARY, READS


def _cc(request: web.Request) -> str:
    return request.app[PUBLIC_CACHE_CONTROL]


def _answer(request: web.Request, lookup: Lookup) -> web.StreamResponse:
    app = request.app
    return cached(request, lookup, cache_control=app[PUBLIC_CACHE_CONTROL], vary=app[PUBLIC_VARY])


async def list_categories(request: web.Request) -> web.StreamResponse:
    lookup = await request.app[READS].categories()
    return _answer(request, lookup)


async def get_category(request: web.Request) -> web.StreamResponse:
    # The ref is checked by Reads on a miss: a hit needs no check (see Reads).
    lookup = await request.app[READS].category(request.match_info["ref"])
    return _answer(request, lookup)


async def list_category_listings(request: web.Request) -> web.StreamResponse:
    ref = request.match_info["ref"]
    limit, cursor = params.page(request)
    wanted = params.listing_filter(request)
    if wanted is None:
        lookup = await request.app[READS].category_listings(ref, limit=limit, cursor=cursor)
        return _answer(request, lookup)
    reads = request.app[READS]
    lookup = await reads.filtered_category_listings(ref, wanted, limit=limit, cursor=cursor)
    return computed(request, lookup, cache_control=_cc(request))


async def get_listing(request: web.Request) -> web.StreamResponse:
    lookup = await request.app[READS].listing(request.match_info["ref"])
    return _answer(request, lookup)
