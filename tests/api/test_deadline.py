"""The one request deadline (service.catalog.deadline), applied as the route table says: whole
by the endpoint wrapper on a route that is not cached, around the miss by the use case on a
cached one, and not at all on a cache hit."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from prometheus_client import CollectorRegistry

from cache.entry import Entry
from cache.memory_layer import MemoryLayer
from cache.readthrough import ReadThroughCache
from metrics.registry import Metrics
from service.api.prepared import Prepared
from service.api.responses import public_cache_control, public_vary
from service.api.routes import ROUTES, add_routes
from service.app import create_app
from service.catalog import cachekeys
from service.catalog.reads import Reads
from service.config import Settings
from service.runtime.appkeys import PUBLIC_HEADERS, READS
from service.store.stores import Stores
from tests.support.app import AiohttpClient, bearer
from tests.support.tokens import TokenMint

NO_TIME_AT_ALL = 0.000_001


async def test_a_route_that_is_not_cached_is_bounded_whole(
    aiohttp_client: AiohttpClient, settings: Settings, mint: TokenMint
) -> None:
    # Its first await (the token's key set, then DynamoDB) is already past the deadline.
    slow = settings.model_copy(update={"request_timeout_s": NO_TIME_AT_ALL})
    client = await aiohttp_client(create_app(slow))
    response = await client.get("/v1/me/favourites", headers=bearer(mint.token()))
    assert response.status == 504
    assert response.content_type == "application/problem+json"
    assert "did not finish within" in (await response.json())["detail"]


def test_a_cached_hit_runs_no_timer() -> None:
    """The route as `add_routes` wraps it, driven by hand with no event loop running: a timer
    (asyncio.timeout) needs the running loop, so a wrapper or use case that set one on a hit
    would fail here, as would a hit that waited on anything."""
    metrics = Metrics(CollectorRegistry(auto_describe=True))
    memory = MemoryLayer(max_bytes=1 << 20)
    cache = ReadThroughCache(
        memory=memory, redis=None, observer=metrics.cache, fresh_ttl=300, stale_window=3600
    )
    now = time.time()
    entry = Entry.build(b'{"id":"hit"}', status=200, now=now, ttl=3600)
    memory.put(
        cachekeys.listing_key("hit"), ("t",), entry, fresh_until=now + 60, keep_until=now + 120
    )
    app = web.Application()
    # Never reached on a hit: a miss would fail on these stores, and past this deadline.
    app[READS] = Reads(Stores.__new__(Stores), cache, negative_ttl=30, deadline_s=NO_TIME_AT_ALL)
    app[PUBLIC_HEADERS] = (public_cache_control(5), public_vary(origin=False))
    add_routes(app, ROUTES, metrics=metrics.http, deadline_s=NO_TIME_AT_ALL)
    request = make_mocked_request("GET", "/v1/listings/hit", app=app, match_info={"ref": "hit"})
    handler = next(
        route.handler
        for resource in app.router.resources()
        if resource.canonical == "/v1/listings/{ref}"
        for route in resource
        if route.method == "GET"
    )
    steps = handler(request).__await__()
    response: Any = None
    try:
        steps.send(None)
    except StopIteration as done:
        response = done.value
    assert isinstance(response, web.StreamResponse), "the hit suspended"
    assert response.status == 200
    # A fresh hit's head, X-Cache included, was serialised when its entry was first served.
    assert isinstance(response, Prepared)
    assert response.source == "memory"
