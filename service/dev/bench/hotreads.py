"""The reads `make hotpath` times, set up as the service runs them: a filled in-process layer,
the use case over it, each handler behind its endpoint wrapper, and a request of the shape
wrk sends (no query, no Accept-Encoding, no Origin)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from aiohttp.base_protocol import BaseProtocol
from aiohttp.http_writer import StreamWriter
from aiohttp.test_utils import make_mocked_request
from prometheus_client import CollectorRegistry

from cache import Entry, Lookup, MemoryLayer, ReadThroughCache
from loadtests.bare import constant_body, constant_headers
from metrics.registry import Metrics
from service.api import params, public
from service.api.accesslog import AccessLog
from service.api.endpoint import Handler, endpoint
from service.api.responses import cached, public_cache_control, public_vary
from service.catalog import cachekeys, render
from service.catalog.reads import Reads
from service.config import Settings
from service.runtime.appkeys import PUBLIC_HEADERS, READS
from service.store.stores import Stores


@dataclass(frozen=True, slots=True)
class BenchRead:
    route: str
    path: str
    ref: str
    key: str
    size: int  # the body's bytes in the benchmark's data set
    handler: Handler
    fresh: Callable[[Reads, str], Lookup | None]  # the use case's peek, as the handler calls it


BENCH_READS = {
    "listing": BenchRead(
        "/v1/listings/{ref}",
        "/v1/listings/syn-listing-000001",
        "syn-listing-000001",
        cachekeys.listing_key("syn-listing-000001"),
        471,
        public.get_listing,
        Reads.fresh_listing,
    ),
    "category page": BenchRead(
        "/v1/categories/{ref}/listings",
        "/v1/categories/syn-category-0000/listings",
        "syn-category-0000",
        cachekeys.category_page_key("syn-category-0000", params.DEFAULT_LIMIT, None),
        23_750,
        public.list_category_listings,
        Reads.fresh_first_page,
    ),
}


@dataclass(frozen=True, slots=True)
class HotRead:
    body: bytes
    request: web.Request
    handler: Handler
    wrapped: Handler
    logged: Handler  # with the default access log
    use_case: Callable[[], object]
    peek: Callable[[], object]
    respond: Callable[[], object]


class _Sink(asyncio.Transport):
    """A connection that takes every write and keeps nothing."""

    def write(self, data: bytes | bytearray | memoryview) -> None:
        pass

    def writelines(self, list_of_data: object) -> None:
        pass

    def is_closing(self) -> bool:
        return False


class Bench:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.metrics = Metrics(CollectorRegistry(auto_describe=True))
        self.memory = MemoryLayer(max_bytes=1 << 26)
        self.cache = ReadThroughCache(
            memory=self.memory,
            redis=None,
            observer=self.metrics.cache,
            fresh_ttl=300,
            stale_window=3600,
        )
        # A hit never reaches the stores: none are needed.
        self.reads_ = Reads(Stores.__new__(Stores), self.cache, negative_ttl=30, deadline_s=10)
        self.app = web.Application()
        self.app[READS] = self.reads_
        # As make benchmark runs the service: a CORS origin allowed, so Vary names Origin.
        self.app[PUBLIC_HEADERS] = (public_cache_control(5), public_vary(origin=True))
        self.bare = constant_headers()
        self._access = AccessLog.from_settings(Settings(mode="test"))
        self._loop = loop
        self._protocol = BaseProtocol(loop)
        self._protocol.transport = _Sink()

    def fresh_writer(self, request: web.Request) -> None:
        request._payload_writer = StreamWriter(self._protocol, self._loop)

    def observe(self) -> None:
        self.metrics.http.observe("/v1/listings/{ref}", "GET", 200, 0.001)

    def reads(self, wanted: dict[str, BenchRead]) -> dict[str, HotRead]:
        return {name: self._read(read) for name, read in wanted.items()}

    def _read(self, read: BenchRead) -> HotRead:
        body = constant_body(read.size)
        now = time.time()
        # Encoded as a fill encodes it: a page carries its gzip and Brotli copies.
        entry = Entry.build(body, status=200, now=now, ttl=3600, encodings=render.encodings(body))
        self.memory.put(read.key, ("bench",), entry, fresh_until=now + 3600, keep_until=now + 7200)
        request = make_mocked_request("GET", read.path, app=self.app, match_info={"ref": read.ref})
        handler, metrics = read.handler, self.metrics.http
        wrapped = endpoint(handler, route=read.route, metrics=metrics, deadline_s=None)
        logged = endpoint(
            handler, route=read.route, metrics=metrics, deadline_s=None, access=self._access
        )
        cache, reads, key, ref, fresh = self.cache, self.reads_, read.key, read.ref, read.fresh
        lookup = cache.peek(key)
        if lookup is None:
            raise RuntimeError(f"{read.key} is not in the in-process layer")
        cache_control, _ = self.app[PUBLIC_HEADERS]
        return HotRead(
            body=body,
            request=request,
            handler=handler,
            wrapped=wrapped,
            logged=logged,
            use_case=lambda: fresh(reads, ref),
            peek=lambda: cache.peek(key),
            respond=lambda: cached(request, lookup, cache_control=cache_control),
        )
