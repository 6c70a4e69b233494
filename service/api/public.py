"""Public reads: no token, served through the cache."""

from __future__ import annotations

from aiohttp import web

from service.api import params
from service.api.responses import cached, computed
from service.runtime.appkeys import PUBLIC_CACHE_CONTROL, READS


def _cc(request: web.Request) -> str:
    return request.app[PUBLIC_CACHE_CONTROL]


async def list_categories(request: web.Request) -> web.Response:
    lookup = await request.app[READS].categories()
    return cached(request, lookup, cache_control=_cc(request))


async def get_category(request: web.Request) -> web.Response:
    # The ref is checked by Reads on a miss: a hit needs no check (see Reads).
    lookup = await request.app[READS].category(request.match_info["ref"])
    return cached(request, lookup, cache_control=_cc(request))


async def list_category_listings(request: web.Request) -> web.Response:
    ref = request.match_info["ref"]
    limit, cursor = params.page(request)
    wanted = params.listing_filter(request)
    if wanted is None:
        lookup = await request.app[READS].category_listings(ref, limit=limit, cursor=cursor)
        return cached(request, lookup, cache_control=_cc(request))
    reads = request.app[READS]
    lookup = await reads.filtered_category_listings(ref, wanted, limit=limit, cursor=cursor)
    return computed(request, lookup, cache_control=_cc(request))


async def get_listing(request: web.Request) -> web.Response:
    lookup = await request.app[READS].listing(request.match_info["ref"])
    return cached(request, lookup, cache_control=_cc(request))
