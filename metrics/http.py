"""HTTP server metrics: requests by route template, method and status; latency; in flight.

`service.api.endpoint` records them around every handler, after errors have become
responses, so the status recorded is the one sent.
"""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from metrics.labels import OTHER, clamp
from metrics.slo import ALERTS, OBJECTIVES
from metrics.tally import CounterTally, HistogramTally, Tallies

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

# A request's own time (metrics.waits): sub-millisecond for a hit, so fine down there.
OWN_BUCKETS: tuple[float, ...] = (
    0.0001,
    0.00025,
    0.0005,
    0.00075,
    0.001,
    0.0015,
    0.002,
    0.003,
    0.005,
    0.0075,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    1.0,
)
# Where a read's answer came from (the X-Cache header); "none" for every other request.
SOURCES = frozenset({"memory", "redis", "miss", "stale", "none"})

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"
# nginx's "client closed request": recorded in place of the 500 a request gets when its
# client hung up before the request could be read (see `outcome`).
CLIENT_CLOSED = 499
_MAX_CHILDREN = 4096
CORS_REJECTED_KINDS = frozenset({"preflight", "request"})


class HttpMetrics:
    """Request counts, latency and in-flight level. Recorded by the endpoint wrapper
    (`service.api.endpoint`) through tallies: plain numbers, flushed into these metrics."""

    def __init__(self, registry: CollectorRegistry, tallies: Tallies) -> None:
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
        self.own_duration = Histogram(
            "hustlehub_http_own_duration_seconds",
            "A request's time less what it waited on DynamoDB and Redis, by where a read's"
            " answer came from (memory, redis, miss, stale; none for other requests).",
            ["route", "method", "source"],
            buckets=OWN_BUCKETS,
            registry=registry,
        )
        self._own: dict[tuple[str, str, str], HistogramTally] = {}
        # (route, raw method, status, source) -> the three tallies of observe_answer.
        self._answers: dict[
            tuple[str, str, int, str], tuple[HistogramTally, CounterTally, HistogramTally]
        ] = {}
        # livesum: the in-flight count of the whole server is the sum over live workers; a
        # dead worker's requests are gone with it (mark_worker_dead drops its file).
        gauge = Gauge(
            "hustlehub_http_requests_in_flight",
            "HTTP requests being handled right now.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        # `in_flight.value += 1` as a request starts, `-= 1` as it ends.
        self.in_flight = tallies.gauge(gauge)
        self._tallies = tallies
        # (route template, raw method, status) -> the two tallies: label resolution is the
        # costliest part of observing, and every request does it. Bounded like the series.
        self._children: dict[tuple[str, str, int], tuple[HistogramTally, CounterTally]] = {}
        # One tally per series: several raw methods clamp to "other", and two tallies of one
        # child would still be correct but flush twice.
        self._durations: dict[tuple[str, str, str], HistogramTally] = {}
        self._counts: dict[tuple[str, str, str], CounterTally] = {}
        # Browser origins refused (service.api.cors): a page that cannot call us, or one that
        # should not. The origin itself is caller-chosen, so it is no label.
        self.cors_rejected = Counter(
            "hustlehub_http_cors_rejected_total",
            "Requests from a browser origin that may not call the API, answered without CORS"
            " headers: preflights (refused with 403) and requests.",
            ["kind"],
            registry=registry,
        )
        for kind in CORS_REJECTED_KINDS:
            self.cors_rejected.labels(kind)

    def declare(self, route: str, method: str, status: int) -> None:
        """A route's series from zero (its first success status, and the source "none" of its
        own time), so that every family is on /metrics, with any number of workers, before
        the first request: multiprocess mode writes a series only once it exists."""
        self.request_duration.labels(route, method, status_class(status))
        self.requests.labels(route, method, status_label(status))
        self.own_duration.labels(route, method, "none")

    def cors_refused(self, kind: str) -> None:
        """One request or preflight from an origin not allowed."""
        self.cors_rejected.labels(clamp(kind, CORS_REJECTED_KINDS)).inc()

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """One answered request. `route` is the matched template or UNMATCHED, never a raw
        path: a path is chosen by whoever sent it, so it would let anyone create series."""
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            children = self._resolve(route, method, status)
        duration, count = children
        duration.observe(seconds)
        count.count += 1

    def observe_own(self, route: str, method: str, source: str, seconds: float) -> None:
        self._own_tally(route, method, source).observe(seconds)

    def observe_answer(
        self, route: str, method: str, status: int, source: str, seconds: float, own: float
    ) -> None:
        """`observe` and `observe_own` of one request, in one lookup: every request makes
        both, and the endpoint wrapper's own cost is the hot path's."""
        key = (route, method, status, source)
        tallies = self._answers.get(key)
        if tallies is None:
            tallies = (
                *(self._children.get(key[:3]) or self._resolve(route, method, status)),
                self._own_tally(route, method, source),
            )
            if len(self._answers) < _MAX_CHILDREN:
                self._answers[key] = tallies
        duration, count, own_tally = tallies
        duration.observe(seconds)
        count.count += 1
        own_tally.observe(own)

    def exemplify(
        self, route: str, method: str, status: int, seconds: float, trace_id: str
    ) -> None:
        """The trace of a request `observe_answer` has just counted, as the exemplar of its
        latency bucket (OpenMetrics scrapes show it: service.api.ops)."""
        duration, _ = self._children.get((route, method, status)) or self._resolve(
            route, method, status
        )
        duration.exemplify(seconds, {"trace_id": trace_id})

    def _own_tally(self, route: str, method: str, source: str) -> HistogramTally:
        key = (route, method, source)
        tally = self._own.get(key)
        if tally is None:
            labels = (route, clamp(method, METHODS), clamp(source, SOURCES))
            tally = self._tallies.histogram(self.own_duration.labels(*labels))
            if len(self._own) < _MAX_CHILDREN:
                self._own[key] = tally
        return tally

    def _resolve(
        self, route: str, raw_method: str, status: int
    ) -> tuple[HistogramTally, CounterTally]:
        method = clamp(raw_method, METHODS)
        duration_labels = (route, method, status_class(status))
        duration = self._durations.get(duration_labels)
        if duration is None:
            child = self.request_duration.labels(*duration_labels)
            duration = self._durations[duration_labels] = self._tallies.histogram(child)
        count_labels = (route, method, status_label(status))
        count = self._counts.get(count_labels)
        if count is None:
            count = self._counts[count_labels] = self._tallies.counter(
                self.requests.labels(*count_labels)
            )
        if len(self._children) < _MAX_CHILDREN:  # raw methods and statuses are caller-chosen
            self._children[(route, raw_method, status)] = (duration, count)
        return duration, count


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
