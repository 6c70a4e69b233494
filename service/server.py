"""Running the app: one process, or N worker processes sharing one listening socket.

Shutdown on SIGTERM/SIGINT, in this order: readiness turns 503 (a load balancer stops sending),
`drain_s` passes, the listener closes, requests in flight finish (up to `shutdown_grace_s`),
then the cleanup contexts close the clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable

from aiohttp import web

from service.config import Settings
from service.runtime.appkeys import READINESS
from service.runtime.logs import startup_fields

log = logging.getLogger(__name__)

AppFactory = Callable[[Settings], web.Application]


def bind(settings: Settings) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in settings.host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((settings.host, settings.port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


async def serve(
    settings: Settings, factory: AppFactory, sock: socket.socket, *, drain_s: float
) -> None:
    app = factory(settings)
    runner = web.AppRunner(
        app,
        handle_signals=False,
        shutdown_timeout=settings.shutdown_grace_s,
        access_log=None,
        # aiohttp's parser answers lines past its limits (8190 bytes by default) with a
        # text/plain 400 before any handler runs; with room for the longest request line and
        # token the API accepts, such input reaches the app and gets a problem+json answer.
        max_line_size=settings.http_max_line_bytes,
        max_field_size=settings.http_max_field_bytes,
    )
    await runner.setup()
    site = web.SockSite(runner, sock)
    await site.start()
    # Everything built so far (botocore's service models, the app, its clients) lives as long
    # as the process. Frozen, the collector no longer scans it: a full collection of this heap
    # was measured at up to ~100 ms, and one that runs under load stalls every request.
    gc.freeze()
    log.info("started", extra=startup_fields(settings, port=sock.getsockname()[1]))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
        log.info("stopping", extra={"drain_s": drain_s, "worker_slot": settings.worker_slot})
        app[READINESS].draining = True
        await asyncio.sleep(drain_s)
    finally:
        await runner.cleanup()
        log.info("stopped", extra={"worker_slot": settings.worker_slot})


def run_one(
    settings: Settings, factory: AppFactory, sock: socket.socket, *, drain_s: float
) -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        asyncio.run(serve(settings, factory, sock, drain_s=drain_s))
    else:
        uvloop.run(serve(settings, factory, sock, drain_s=drain_s))


def run_workers(
    settings: Settings,
    factory: AppFactory,
    *,
    drain_s: float,
    on_worker_exit: Callable[[int], None],
) -> None:
    """Fork `settings.workers` processes onto one socket and keep that many alive."""
    sock = bind(settings)
    children: dict[int, int] = {}  # pid -> its worker slot (a replacement takes the same slot)
    stopping = False

    def spawn(slot: int) -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            code = 0
            try:
                run_one(
                    settings.model_copy(update={"worker_slot": slot}),
                    factory,
                    sock,
                    drain_s=drain_s,
                )
            except BaseException:
                log.exception("worker %d failed", os.getpid())
                code = 1
            finally:
                os._exit(code)
        children[pid] = slot

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for slot in range(settings.workers):
        spawn(slot)
    restarts: list[float] = []
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:  # pragma: no cover - PEP 475 retries, kept for clarity
            continue
        slot = children.pop(pid, -1)
        on_worker_exit(pid)
        if stopping:
            continue
        log.warning("worker %d exited (status %d); starting another", pid, status)
        now = time.monotonic()
        restarts = [t for t in restarts if now - t < 60] + [now]
        if len(restarts) > 10 * settings.workers:
            log.error("workers keep dying; giving up")
            forward(signal.SIGTERM, None)
            sys.exit(1)
        if slot >= 0:  # a child of ours, not one we never forked
            spawn(slot)
    sock.close()
