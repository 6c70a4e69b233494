"""HTTP server metrics and the aiohttp middleware that records them.

Install the middleware first in `app.middlewares` (outermost), so it times the whole request
and sees the status the error middleware finally chose.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from metrics.labels import OTHER, clamp
from metrics.slo import ALERTS, OBJECTIVES

if TYPE_CHECKING:
    from metrics.registry import Metrics

# Fine around the SLO numbers, so histogram_quantile() interpolates within a narrow bucket
# there; the SLO values themselves are edges, so "share of requests under 50 ms" is exact.
LATENCY_BUCKETS: tuple[float, ...] = tuple(
    sorted(
        {
            0.001,
            0.0025,
            0.005,
            0.01,
            0.02,
            0.03,
            0.04,
            0.06,
            0.075,
            0.15,
            0.25,
            0.5,
            1.0,
            2.5,
            5.0,
            10.0,
            OBJECTIVES.read_p99_seconds,
            OBJECTIVES.write_p99_seconds,
            ALERTS.p99_seconds,
        }
    )
)

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"
# nginx's "client closed request": recorded in place of the 500 a request gets when its
# client hung up before the request could be read (see `outcome`).
CLIENT_CLOSED = 499
_MAX_CHILDREN = 4096


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.request_duration = Histogram(
            "hustlehub_http_request_duration_seconds",
            "Time from the request reaching the app to the response being ready.",
            ["route", "method", "status_class"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.requests = Counter(
            "hustlehub_http_requests_total",
            "HTTP requests answered, by route template, method and status code.",
            ["route", "method", "status"],
            registry=registry,
        )
        # livesum: the in-flight count of the whole server is the sum over live workers; a
        # dead worker's requests are gone with it (mark_worker_dead drops its file).
        self.in_flight = Gauge(
            "hustlehub_http_requests_in_flight",
            "HTTP requests being handled right now.",
            registry=registry,
            multiprocess_mode="livesum",
        )

        # (route, raw method, status) -> the two children: label resolution is the costliest
        # part of observing, and every request does it. Bounded like the series themselves.
        self._children: dict[tuple[str, str, int], tuple[Histogram, Counter]] = {}

    def observe(self, request: web.Request, status: int, seconds: float) -> None:
        status = outcome(request, status)
        key = (route_label(request), request.method, status)
        children = self._children.get(key)
        if children is None:
            children = self._resolve(*key)
        duration, count = children
        duration.observe(seconds)
        count.inc()

    def _resolve(self, route: str, raw_method: str, status: int) -> tuple[Histogram, Counter]:
        method = clamp(raw_method, METHODS)
        children = (
            self.request_duration.labels(route, method, status_class(status)),
            self.requests.labels(route, method, status_label(status)),
        )
        if len(self._children) < _MAX_CHILDREN:  # raw methods and statuses are caller-chosen
            self._children[(route, raw_method, status)] = children
        return children


def route_label(request: web.Request) -> str:
    """The matched route's template ("/listings/{id}"), never the raw path.

    A request that matched no route (404, 405) gets "unmatched": its path is chosen by
    whoever sent it, so using it would let anyone create series without bound.
    """
    match_info = request.match_info
    if match_info.http_exception is not None:
        return UNMATCHED
    resource = match_info.route.resource
    if resource is None:
        return UNMATCHED
    return resource.canonical


def outcome(request: web.Request, status: int) -> int:
    """The status to record: `status`, except a 500 for a client that is already gone.

    A client that stops sending a request body and hangs up makes `request.read()` raise
    ConnectionResetError, which ends as a 500 nobody receives. Counted as a 500 it would let
    any signed-in user burn the error budget and page on-call by aborting uploads. Only 500
    is rewritten: a 502-504 (DynamoDB down, a deadline) is the server's failure even when the
    client gave up waiting for it.
    """
    if status != 500:
        return status
    transport = request.transport
    return CLIENT_CLOSED if transport is None or transport.is_closing() else status


def status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status <= 599 else OTHER


def status_label(status: int) -> str:
    return str(status) if 100 <= status <= 599 else OTHER


def http_metrics_middleware(metrics: Metrics) -> Middleware:
    http = metrics.http

    @web.middleware
    async def record_http_metrics(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        http.in_flight.inc()
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            # Raised 4xx/5xx (and redirects): aiohttp sends them as the response.
            http.observe(request, exc.status, time.perf_counter() - started)
            raise
        except asyncio.CancelledError:
            # The client went away or the server is shutting down: nothing was answered, so
            # neither latency nor status would mean anything (and a 5xx would burn budget).
            raise
        except Exception:
            # aiohttp turns any other escaping exception into a 500.
            http.observe(request, 500, time.perf_counter() - started)
            raise
        else:
            http.observe(request, response.status, time.perf_counter() - started)
            return response
        finally:
            http.in_flight.dec()

    return record_http_metrics
