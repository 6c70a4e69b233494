"""What an in-process hit costs in our code, without a socket.

    python -m service.dev.bench.hotpath [--number 20000] [--repeat 7]

Times, in this process, the pieces of a cached listing read as the service runs them (the
endpoint wrapper, the handler, the use case's cache peek, the response) against the one thing
the bare ceiling does per request (build an aiohttp Response with the same body), and prints
each in µs with its ratio to that. No server, no network and no I/O: the in-process layer is
filled directly, and each coroutine finishes without suspending, so it is driven by hand rather
than by an event loop. Best of `--repeat` runs of `--number` calls each, the least disturbed by
the rest of the machine.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
import timeit
from collections.abc import Awaitable, Callable
from typing import TextIO, TypeVar

from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from prometheus_client import CollectorRegistry

from cache import Entry, Lookup, MemoryLayer, ReadThroughCache
from metrics.registry import Metrics
from service.api import public
from service.api.accesslog import AccessLog
from service.api.endpoint import endpoint
from service.api.prepared import Prepared
from service.api.responses import cached, public_cache_control, public_vary
from service.catalog import cachekeys
from service.catalog.reads import Reads
from service.config import Settings
from service.runtime import logs
from service.runtime.appkeys import PUBLIC_HEADERS, READS
from service.store.stores import Stores

REF = "syn-listing-000001"
BODY_BYTES = 471  # a listing's body in the benchmark's data set
T = TypeVar("T")


def finish(awaitable: Awaitable[T]) -> T:
    """Run an awaitable that never suspends (every await below it is a cache hit)."""
    steps = awaitable.__await__()
    try:
        next(steps)
    except StopIteration as done:
        result: T = done.value
        return result
    raise RuntimeError("the read suspended: it was not an in-process hit")


def _devnull() -> TextIO:
    return open(os.devnull, "w", encoding="utf-8")


def _cases() -> dict[str, Callable[[], object]]:
    metrics = Metrics(CollectorRegistry(auto_describe=True))
    memory = MemoryLayer(max_bytes=1 << 26)
    cache = ReadThroughCache(
        memory=memory, redis=None, observer=metrics.cache, fresh_ttl=300, stale_window=3600
    )
    body = b"x" * BODY_BYTES
    now = time.time()
    entry = Entry.build(body, status=200, now=now, ttl=3600)
    key = cachekeys.listing_key(REF)
    memory.put(key, ("bench",), entry, fresh_until=now + 3600, keep_until=now + 7200)
    # A hit never reaches the stores: none are needed.
    reads = Reads(Stores.__new__(Stores), cache, negative_ttl=30, deadline_s=10)
    app = web.Application()
    app[READS] = reads
    app[PUBLIC_HEADERS] = (public_cache_control(5), public_vary(origin=False))
    request = make_mocked_request("GET", f"/v1/listings/{REF}", app=app, match_info={"ref": REF})
    wrapped = endpoint(
        public.get_listing, route="/v1/listings/{ref}", metrics=metrics.http, deadline_s=None
    )
    # The default access log (errors, slow requests and a 0.1% sample), writing its sampled
    # lines as production does: JSON (main sends them to /dev/null).
    logged = endpoint(
        public.get_listing,
        route="/v1/listings/{ref}",
        metrics=metrics.http,
        deadline_s=None,
        access=AccessLog.from_settings(Settings(mode="test")),
    )
    lookup: Lookup = finish(reads.listing(REF))
    answer = finish(wrapped(request))
    if not isinstance(answer, Prepared) or answer.source != "memory":
        raise RuntimeError(f"the handler answered {answer.status}, not an in-process hit")
    cache_control, _ = app[PUBLIC_HEADERS]
    bare_headers = {"Cache-Control": "public, max-age=5", "ETag": '"bare"'}
    return {
        "ceiling: aiohttp Response": lambda: web.Response(
            body=body, content_type="application/json", headers=bare_headers
        ),
        "endpoint wrapper + handler": lambda: finish(wrapped(request)),
        "the same, access log default": lambda: finish(logged(request)),
        "handler (get_listing)": lambda: finish(public.get_listing(request)),
        "use case (Reads.listing)": lambda: finish(reads.listing(REF)),
        "cache peek": lambda: cache.peek(key),
        "response (cached)": lambda: cached(request, lookup, cache_control=cache_control),
        "request metrics (observe)": lambda: metrics.http.observe(
            "/v1/listings/{ref}", "GET", 200, 0.001
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="service.dev.bench.hotpath", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--number", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    with _devnull() as sink:
        handler = logs.configure(level="info", renderer="json", stream=sink)
        try:
            cases = _cases()
            timings = {
                name: min(timeit.repeat(call, number=args.number, repeat=args.repeat)) / args.number
                for name, call in cases.items()
            }
        finally:
            logging.getLogger().removeHandler(handler)
    ceiling = timings["ceiling: aiohttp Response"]
    print(f"in-process listing hit, best of {args.repeat} x {args.number} calls")
    for name, seconds in timings.items():
        print(f"  {name:30} {seconds * 1e6:7.2f} µs  {seconds / ceiling:5.2f}x the ceiling's")
    extra = timings["endpoint wrapper + handler"] - ceiling
    print(f"  ours beyond the ceiling's work: {extra * 1e6:.2f} µs a request")
    access = timings["the same, access log default"] - timings["endpoint wrapper + handler"]
    print(f"  the default access log's share: {access * 1e6:.2f} µs a request")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
