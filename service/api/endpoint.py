"""The one wrapper every handler runs in: request metrics, the route's declared auth, the
request deadline, and error translation (every failure leaves as problem+json).

These would naturally be aiohttp middlewares. They are one function, built once per route when
the app is assembled, because aiohttp runs middlewares as a chain of partials plus a wrapper
of its own per request: profiled under wrk, the chain and prometheus_client's locks cost more
than the whole cached read behind them. The wrapper knows its route template, so the metrics
need no lookup of the matched resource either, and it knows its route's auth, so a public
route carries no auth step at all.

It also names each request (service.api.requestid): the id goes into the response's
`X-Request-Id`, any problem+json body, the box every log line of the request reads it from
(metrics.waits), and the access log (service.api.accesslog), whose test it runs per request.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Iterable

from aiohttp import web
from opentelemetry.trace import SpanKind, StatusCode

from metrics import waits
from metrics.http import HttpMetrics, outcome
from service import errors
from service.api.accesslog import AccessLog
from service.api.auth import Auth, authenticate, authorise_admin
from service.api.prepared import SERVER, Prepared
from service.api.problems import from_http_exception, from_service_error, problem
from service.api.requestid import HEADER as REQUEST_ID
from service.api.requestid import RequestIds, stamp_problem
from service.catalog.deadline import Deadline
from service.runtime.appkeys import PRINCIPAL
from service.runtime.health import Drain
from service.runtime.tracing import Tracing, sampled_trace_id

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def endpoint(
    handler: Handler,
    *,
    route: str,
    metrics: HttpMetrics,
    deadline_s: float | None,
    auth: Auth = "public",
    decorate: Callable[[web.Request, web.StreamResponse], None] | None = None,
    ids: RequestIds | None = None,
    access: AccessLog | None = None,
    tracing: Tracing | None = None,
    drain: Drain | None = None,
) -> Handler:
    """`handler` recorded under the template `route`, behind `auth` (a user or admin route
    publishes the caller under PRINCIPAL before the handler runs), bounded by `deadline_s`
    unless None (who bounds what: service.catalog.deadline), and with its errors translated.
    `decorate` sees every answer, errors included, before it is sent (CORS: service.api.cors).
    Once `drain` is set, every answer closes its connection and tells the client so."""
    guarded = handler if auth == "public" else _with_auth(handler, admin=auth == "admin")
    bounded = guarded if deadline_s is None else _with_deadline(guarded, Deadline(deadline_s))
    in_flight = metrics.in_flight
    observe = metrics.observe
    observe_own = metrics.observe_own
    observe_answer = metrics.observe_answer
    clock = time.perf_counter
    name = (ids if ids is not None else RequestIds()).of
    # The access log's test, inlined below: two comparisons and at most one random draw.
    min_status, slow_s, sample = (
        (access.min_status, access.slow_s, access.sample) if access else (1000, math.inf, 0.0)
    )
    draw = random.random
    drain = drain if drain is not None else Drain()
    exemplify = _exemplars(metrics, tracing)

    async def handle(request: web.Request) -> web.StreamResponse:
        started = clock()
        request_id = name(request)
        box = waits.begin(request_id)
        in_flight.value += 1
        try:
            try:
                response = await bounded(request)
            # Any failure becomes an answer; CancelledError is a BaseException and passes.
            except Exception as exc:  # noqa: BLE001
                response = translate(request, exc)
        except web.HTTPException as exc:  # a redirect, re-raised by translate: aiohttp sends it
            elapsed = clock() - started
            exc.headers[REQUEST_ID] = request_id
            exc.headers["Server"] = SERVER
            if drain.draining:
                exc.force_close()
            observe(route, request.method, exc.status, elapsed)
            closed = waits.end(box)
            observe_own(route, request.method, "none", elapsed - (closed.waited if closed else 0))
            raise
        finally:
            in_flight.value -= 1
        if decorate is not None:
            decorate(request, response)
        if type(response) is Prepared:
            response.request_id = request_id  # its head says X-Cache and Server
            source = response.source
        else:
            headers = response.headers
            headers[REQUEST_ID] = request_id
            headers["Server"] = SERVER
            source = headers.get("X-Cache", "none")
        if drain.draining:
            response.force_close()  # aiohttp, and Prepared, then say Connection: close
        status = response.status
        if status >= 400:
            stamp_problem(response, request_id)
            if status == 500:
                status = outcome(request, status)  # a client that is gone: 499
        elapsed = clock() - started
        method = request.method
        closed = waits.end(box)
        waited = closed.waited if closed else 0.0
        observe_answer(route, method, status, source, elapsed, elapsed - waited)
        if exemplify is not None:  # the one check an untraced request pays
            exemplify(route, method, status, elapsed)
        if access is not None and (status >= min_status or elapsed >= slow_s or draw() < sample):
            access.write(
                request,
                response,
                route=route,
                status=status,
                elapsed=elapsed,
                request_id=request_id,
                source=source,
                dynamodb_calls=closed.dynamodb_calls if closed else 0,
            )
        return response

    return handle if tracing is None else _traced(handle, tracing, route)


def _exemplars(
    metrics: HttpMetrics, tracing: Tracing | None
) -> Callable[[str, str, int, float], None] | None:
    """What keeps a sampled request's trace as its latency's exemplar; None unless tracing
    runs and the metrics keep exemplars (service.runtime.tracing)."""
    if tracing is None or not tracing.exemplars:
        return None
    exemplify = metrics.exemplify

    def exemplar(route: str, method: str, status: int, seconds: float) -> None:
        # Run inside the request's server span (_traced wraps `handle`).
        trace_id = sampled_trace_id()
        if trace_id is not None:
            exemplify(route, method, status, seconds, trace_id)

    return exemplar


def _traced(handler: Handler, tracing: Tracing, route: str) -> Handler:
    """`handler` inside a server span, a child of the caller's trace if it sent one. Only
    built when tracing is on: an untraced app runs `handle` itself."""
    tracer = tracing.tracer

    async def traced(request: web.Request) -> web.StreamResponse:
        method = request.method
        with tracer.start_as_current_span(
            f"{method} {route}",
            context=tracing.parent(request.headers),
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "http.route": route},
        ) as span:
            response = await handler(request)
            span.set_attribute("http.response.status_code", response.status)
            request_id = (
                response.request_id
                if isinstance(response, Prepared)
                else response.headers.get(REQUEST_ID, "")
            )
            span.set_attribute("hustlehub.request_id", request_id)
            if response.status >= 500:
                span.set_status(StatusCode.ERROR)
            return response

    return traced


def _with_auth(handler: Handler, *, admin: bool) -> Handler:
    async def authenticated(request: web.Request) -> web.StreamResponse:
        # Before the handler parses anything: a caller without the right gets its 401 or 403,
        # never a 404, 415 or 422 that would tell it something about what it sent.
        principal = await authenticate(request)
        if admin:
            await authorise_admin(request, principal)
        request[PRINCIPAL] = principal
        return await handler(request)

    return authenticated


def _with_deadline(handler: Handler, deadline: Deadline) -> Handler:
    async def bounded(request: web.Request) -> web.StreamResponse:
        return await deadline.run(handler(request))

    return bounded


def translate(request: web.Request, exc: Exception) -> web.StreamResponse:
    """The one place an exception becomes an HTTP answer."""
    if isinstance(exc, errors.ServiceError):
        if isinstance(exc, errors.StoreError) and not isinstance(exc, errors.StoreUnavailable):
            log.error("store failure on %s %s", request.method, request.path, exc_info=exc)
        return from_service_error(exc)
    if isinstance(exc, web.HTTPException):
        if exc.status < 400:
            raise exc
        return from_http_exception(exc)
    if isinstance(exc, ConnectionResetError):
        # The client hung up mid-request (e.g. while sending its body): nobody will read an
        # answer and it is not a server failure. 499 is nginx's "client closed request".
        log.debug("client closed the connection during %s %s", request.method, request.path)
        return web.Response(status=499, reason="Client Closed Request")
    log.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
    return problem(500, "Internal Server Error", "an unexpected error occurred")


def unmatched(resources: Callable[[], Iterable[web.AbstractResource]]) -> Handler:
    """The catch-all route's handler: 405 with Allow when another route has the path, else
    404. aiohttp would answer both itself, in plain text and outside any wrapper."""

    async def handle(request: web.Request) -> web.StreamResponse:
        allowed: set[str] = set()
        for resource in resources():
            if resource is request.match_info.route.resource:
                continue
            match, methods = await resource.resolve(request)
            if match is None:
                allowed |= methods
        if allowed:
            raise web.HTTPMethodNotAllowed(request.method, allowed)
        raise web.HTTPNotFound()

    return handle
