"""Running the app: one process, or N worker processes sharing one listening socket.

Shutdown on SIGTERM/SIGINT, in this order: readiness turns 503 (a load balancer stops sending),
`drain_s` passes, the listener closes in every process (the parent of workers closes its copy
at the signal), requests already accepted get the rest of their bodies and finish (up to
`shutdown_grace_s`: meanwhile every answer says `Connection: close` and an idle connection is
closed at once), then the cleanup contexts close the clients.

aiohttp's own shutdown (`AppRunner.cleanup`) marks every connection closing first, after which
its parser drops whatever still arrives: a request whose body was arriving then could only
time out. So the connections are wound down here, and `cleanup` finds them gone.
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

from metrics.http import UNMATCHED
from service.api.protocol import Connection
from service.config import Settings
from service.runtime.appkeys import DRAIN, METRICS
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
    # What is left of the grace when aiohttp's cleanup runs: connections still busy then get
    # this long to take their cancellation.
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=_CANCEL_WAIT_S)
    await runner.setup()
    server = runner.server
    assert server is not None  # set up
    listener = await _listen(settings, app, server, sock)
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
        # Readiness says 503, and every answer from now on closes its connection.
        app[DRAIN].draining = True
        await asyncio.sleep(drain_s)
    finally:
        listener.close()
        sock.close()  # new connections are refused from now on, not queued unanswered
        await _finish_connections(server, within_s=settings.shutdown_grace_s)
        await runner.cleanup()
        log.info("stopped", extra={"worker_slot": settings.worker_slot})


_CANCEL_WAIT_S = 1.0
_POLL_S = 0.02


async def _listen(
    settings: Settings, app: web.Application, server: web.Server, sock: socket.socket
) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    http = app[METRICS].http

    def refused(status: int) -> None:
        http.observe(UNMATCHED, "-", status, 0.0)

    def connection() -> Connection:
        return Connection(
            server,
            loop=loop,
            header_timeout_s=settings.http_header_timeout_s,
            on_refused=refused,
            keepalive_timeout=settings.http_keepalive_timeout_s,
            access_log=None,
            # aiohttp's parser refuses lines past its limits (8190 bytes by default) before
            # any handler runs; with room for the longest request line and token the API
            # accepts, such input reaches the app and gets its own answer.
            max_line_size=settings.http_max_line_bytes,
            max_field_size=settings.http_max_field_bytes,
        )

    return await loop.create_server(connection, sock=sock, backlog=1024)


async def _finish_connections(server: web.Server, *, within_s: float) -> None:
    """Close each connection once it is idle, until none is left or `within_s` has passed.
    A busy one keeps reading its request's body and closes after its answer."""
    deadline = time.monotonic() + within_s
    for _ in range(int(within_s / _POLL_S) + 1):  # bounded by the grace
        connections = server.connections
        if not connections or time.monotonic() >= deadline:
            return
        for connection in connections:
            if isinstance(connection, Connection) and connection.idle:
                connection.close()
        await asyncio.sleep(_POLL_S)


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
        # No worker is started from now on, so the parent needs no copy of the listener: the
        # socket closes as soon as the last worker has closed its own after the drain.
        sock.close()
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
