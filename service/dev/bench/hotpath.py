"""What an in-process hit costs in our code, without a socket.

    python -m service.dev.bench.hotpath [--number 20000] [--repeat 7]

Times, in this process, the pieces of a cached read as the service runs them (the endpoint
wrapper, the handler, the use case's cache peek, the response), for a listing and for a
category page (`make benchmark`'s two endpoints, their bodies sized alike), against the one
thing the bare ceiling does per request (build an aiohttp Response with the same body), and
prints each in µs with its ratio to that. Then the same answers sent: prepared and written
through aiohttp's own StreamWriter to a transport that drops the bytes, as aiohttp's
connection loop does after the handler. The write is where a 24 KB body differs (aiohttp
joins head and body into one buffer on Python 3.11; a prepared answer hands both to the
transport), and a fresh hit's head is made once where the ceiling's is serialised field by
field per request; only the "sent" figures see either. No server, no network and no I/O: the
in-process layer is filled directly, and each coroutine finishes without suspending, so it is
driven by hand rather than by an event loop. Best of `--repeat` runs of `--number` calls each,
the least disturbed by the rest of the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import timeit
from collections.abc import Awaitable, Callable
from typing import TextIO, TypeVar

from aiohttp import web

from service.dev.bench.hotreads import BENCH_READS, Bench, HotRead
from service.runtime import logs

T = TypeVar("T")
CEILING = "ceiling: aiohttp Response"
OURS = "endpoint wrapper + handler"
LOGGED = "the same, access log default"
CEILING_SENT = "ceiling: Response sent"
OURS_SENT = "wrapper + handler, sent"


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


def _sent(
    bench: Bench, request: web.Request, build: Callable[[], web.StreamResponse]
) -> Callable[[], object]:
    """`build`'s answer prepared and finished as aiohttp's connection loop does, through a
    fresh StreamWriter each time (aiohttp makes one per request)."""

    def send() -> None:
        bench.fresh_writer(request)
        response = build()
        finish(response.prepare(request))
        finish(response.write_eof())

    return send


def _cases(bench: Bench, read: HotRead) -> dict[str, Callable[[], object]]:
    request = read.request
    wrapped, logged = read.wrapped, read.logged
    answer = finish(wrapped(request))
    if answer.status != 200 or getattr(answer, "source", None) != "memory":
        raise RuntimeError(f"the handler answered {answer.status}, not an in-process hit")

    def ceiling() -> web.Response:
        return web.Response(body=read.body, content_type="application/json", headers=bench.bare)

    def ours() -> web.StreamResponse:
        return finish(wrapped(request))

    return {
        CEILING: ceiling,
        OURS: ours,
        LOGGED: lambda: finish(logged(request)),
        f"handler ({read.handler.__name__})": lambda: finish(read.handler(request)),
        "use case (Reads.fresh_*)": read.use_case,
        "cache peek": read.peek,
        "response (cached)": read.respond,
        CEILING_SENT: _sent(bench, request, ceiling),
        OURS_SENT: _sent(bench, request, ours),
    }


def _report(name: str, timings: dict[str, float], args: argparse.Namespace) -> None:
    ceiling = timings[CEILING]
    print(f"in-process {name} hit, best of {args.repeat} x {args.number} calls")
    for case, seconds in timings.items():
        print(f"  {case:34} {seconds * 1e6:7.2f} µs  {seconds / ceiling:5.2f}x the ceiling's")
    print(f"  ours beyond the ceiling's work: {(timings[OURS] - ceiling) * 1e6:.2f} µs a request")
    sent = timings[OURS_SENT] - timings[CEILING_SENT]
    print(f"  the same, answers sent: {sent * 1e6:+.2f} µs a request")
    print(f"  the default access log's share: {(timings[LOGGED] - timings[OURS]) * 1e6:.2f} µs")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="service.dev.bench.hotpath", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--number", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    loop = asyncio.new_event_loop()  # only for the StreamWriters: nothing runs on it
    with _devnull() as sink:
        handler = logs.configure(level="info", renderer="json", stream=sink)
        try:
            bench = Bench(loop)
            for name, read in bench.reads(BENCH_READS).items():
                cases = _cases(bench, read)
                timings = {
                    case: min(timeit.repeat(call, number=args.number, repeat=args.repeat))
                    / args.number
                    for case, call in cases.items()
                }
                _report(name, timings, args)
            observe = min(timeit.repeat(bench.observe, number=args.number, repeat=args.repeat))
            print(f"request metrics (observe): {observe / args.number * 1e6:.2f} µs")
        finally:
            logging.getLogger().removeHandler(handler)
            loop.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
