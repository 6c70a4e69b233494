"""Public reads: no token, served through the cache.

Each handler first asks its use case for a fresh in-process copy (a plain call, no coroutine:
this is the hot path) and awaits the use case's read only when there is none.
"""

from __future__ import annotations

from aiohttp import web

from cache import Lookup
from service.api import params
from service.api.responses import cached, computed
from service.runtime.appkeys import PUBLIC_HEADERS, READS


def _answer(request: web.Request, lookup: Lookup) -> web.StreamResponse:
    cache_control, vary = request.app[PUBLIC_HEADERS]
    return cached(request, lookup, cache_control=cache_control, vary=vary)


async def list_categories(request: web.Request) -> web.StreamResponse:
    reads = request.app[READS]
    lookup = reads.fresh_categories() or await reads.categories()
    return _answer(request, lookup)


async def get_category(request: web.Request) -> web.StreamResponse:
    # The ref is checked by Reads on a miss: a hit needs no check (see Reads).
    ref = request.match_info["ref"]
    reads = request.app[READS]
    lookup = reads.fresh_category(ref) or await reads.category(ref)
    return _answer(request, lookup)


async def list_category_listings(request: web.Request) -> web.StreamResponse:
    ref = request.match_info["ref"]
    reads = request.app[READS]
    if not request.query_string:
        # The first page, unfiltered: what nearly every reader asks for, so it skips the query's
        # parsing (params.page and params.listing_filter both answer their defaults for it).
        lookup = reads.fresh_first_page(ref) or await reads.category_listings(
            ref, limit=params.DEFAULT_LIMIT, cursor=None
        )
        return _answer(request, lookup)
    limit, cursor = params.page(request)
    wanted = params.listing_filter(request)
    if wanted is None:
        lookup = reads.fresh_category_listings(
            ref, limit=limit, cursor=cursor
        ) or await reads.category_listings(ref, limit=limit, cursor=cursor)
        return _answer(request, lookup)
    lookup = await reads.filtered_category_listings(ref, wanted, limit=limit, cursor=cursor)
    cache_control, _ = request.app[PUBLIC_HEADERS]
    return computed(request, lookup, cache_control=cache_control)


async def get_listing(request: web.Request) -> web.StreamResponse:
    ref = request.match_info["ref"]
    reads = request.app[READS]
    lookup = reads.fresh_listing(ref) or await reads.listing(ref)
    return _answer(request, lookup)
