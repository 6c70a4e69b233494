"""The SLO gate: a load-test run passes only if both the load generator and the server say so.

Two witnesses, judged against the same objectives (`metrics.slo`, never repeated here):

- the client (locust's statistics): what users saw, including the network and any proxy;
- the server (its own `hustlehub_http_request_duration_seconds` histogram, scraped from
  /metrics before and after the run): the delta of the cumulative buckets, turned into a P99
  by the same linear interpolation PromQL's histogram_quantile() uses.

Beside them, the service's own time (`OwnStats`): its `hustlehub_http_own_duration_seconds`
histogram, request time less what the request waited on DynamoDB and Redis, at P50 and P99
for reads, for cached reads (answered from memory or Redis) and for writes. On an emulator it
is what says whether the service itself holds the targets; it is reported, not judged, except
by a ladder that looks for the highest rate its cached-read P99 stays under `OWN_P99_LIMIT_S`.

Reads are GET and HEAD; writes are POST, PUT, PATCH and DELETE. A failure on the client is
whatever locust counted as one; on the server it is a 5xx answer. A kind of request that did
not occur in the run is not judged (there is nothing to judge), and says so.
"""

from __future__ import annotations

import math
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

from metrics.slo import OBJECTIVES

DURATION = "hustlehub_http_request_duration_seconds"
OWN = "hustlehub_http_own_duration_seconds"
CACHED_SOURCES = frozenset({"memory", "redis"})
# The design guide's cached-read P99, applied to the service's own share of it.
OWN_P99_LIMIT_S = 0.005
READ_METHODS = frozenset({"GET", "HEAD"})
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Operational endpoints (the gate's own scrapes among them) are not user traffic.
OPS_ROUTES = frozenset({"/metrics", "/healthz", "/readyz", "/openapi.json"})
# Below this many requests a P99 is the slowest request; the report says so.
FEW_FOR_P99 = 100

# (route, method, status_class) -> {upper bound: cumulative count}
Buckets = dict[tuple[str, str, str], dict[float, float]]


def kind_of(method: str) -> str | None:
    upper = method.upper()
    if upper in READ_METHODS:
        return "read"
    if upper in WRITE_METHODS:
        return "write"
    return None


# -- the server's histograms -----------------------------------------------------------------


def parse_buckets(text: str, name: str = DURATION, third: str = "status_class") -> Buckets:
    """Every `_bucket` sample of a request histogram in a scrape (the request duration by
    default; series by route, method and `third`)."""
    buckets: Buckets = defaultdict(dict)
    for family in text_string_to_metric_families(text):
        if family.name != name:
            continue
        for sample in family.samples:
            if sample.name != f"{name}_bucket":
                continue
            labels = sample.labels
            series = (labels["route"], labels["method"], labels[third])
            buckets[series][float(labels["le"])] = float(sample.value)
    return dict(buckets)


def scrape(base_url: str, *, timeout_s: float = 5.0) -> str:
    if not base_url.startswith(("http://127.0.0.1", "http://localhost", "http://[::1]")):
        raise ValueError(f"the gate scrapes loopback only, not {base_url}")
    with urllib.request.urlopen(f"{base_url}/metrics", timeout=timeout_s) as response:  # noqa: S310
        body: bytes = response.read()
    return body.decode()


def delta(before: Buckets, after: Buckets) -> Buckets:
    """after - before, per series and bucket; a series absent before counts from zero."""
    out: Buckets = {}
    for series, upper in after.items():
        prior = before.get(series, {})
        diff = {le: count - prior.get(le, 0.0) for le, count in upper.items()}
        if any(value < 0 for value in diff.values()):
            raise ValueError(f"counter went backwards for {series}: did the service restart?")
        out[series] = diff
    return out


def combine(buckets: Buckets, kind: str) -> dict[float, float]:
    """Sum the series of one kind (read or write) of user traffic into one histogram."""
    total: dict[float, float] = defaultdict(float)
    for (route, method, _status), upper in buckets.items():
        if route in OPS_ROUTES or kind_of(method) != kind:
            continue
        for le, count in upper.items():
            total[le] += count
    return dict(total)


def histogram_quantile(q: float, cumulative: Mapping[float, float]) -> float:
    """PromQL's histogram_quantile() on one histogram ({upper bound: cumulative count}).

    NaN without observations. A rank falling in the +Inf bucket returns the largest finite
    bound, and the first bucket interpolates from 0, exactly as Prometheus does.
    """
    if not 0 <= q <= 1:
        raise ValueError("q must be within [0, 1]")
    bounds = sorted(cumulative)
    if not bounds or bounds[-1] != math.inf:
        raise ValueError("a histogram needs its +Inf bucket")
    total = cumulative[math.inf]
    if total <= 0:
        return math.nan
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for upper_bound in bounds:
        count = cumulative[upper_bound]
        if count >= rank:
            if upper_bound == math.inf:
                return bounds[-2] if len(bounds) > 1 else math.nan
            if count == lower_count:
                return upper_bound
            return lower_bound + (upper_bound - lower_bound) * (rank - lower_count) / (
                count - lower_count
            )
        lower_bound, lower_count = upper_bound, count
    return bounds[-2]  # pragma: no cover - rank <= total always lands on +Inf above


@dataclass(frozen=True, slots=True)
class ServerStats:
    requests: dict[str, float]  # kind -> count
    failures: float  # 5xx
    p99_seconds: dict[str, float]  # kind -> P99 (NaN without requests)

    @classmethod
    def from_scrapes(cls, before: str, after: str) -> ServerStats:
        diff = delta(parse_buckets(before), parse_buckets(after))
        requests: dict[str, float] = {}
        p99: dict[str, float] = {}
        for kind in ("read", "write"):
            hist = combine(diff, kind)
            requests[kind] = hist.get(math.inf, 0.0)
            p99[kind] = histogram_quantile(0.99, hist) if hist else math.nan
        failures = sum(
            upper.get(math.inf, 0.0)
            for (route, method, status), upper in diff.items()
            if route not in OPS_ROUTES and kind_of(method) is not None and status == "5xx"
        )
        return cls(requests=requests, failures=failures, p99_seconds=p99)


@dataclass(frozen=True, slots=True)
class OwnStats:
    """The service's own time: {kind: seconds} at P50 and P99, kinds read, cached read,
    write; with the request counts they were taken over."""

    requests: dict[str, float]
    p50_seconds: dict[str, float]
    p99_seconds: dict[str, float]

    @classmethod
    def from_scrapes(cls, before: str, after: str) -> OwnStats:
        diff = delta(parse_buckets(before, OWN, "source"), parse_buckets(after, OWN, "source"))
        kinds: dict[str, Callable[[str, str], bool]] = {
            "read": lambda method, _source: kind_of(method) == "read",
            "cached read": lambda method, source: (
                kind_of(method) == "read" and source in CACHED_SOURCES
            ),
            "write": lambda method, _source: kind_of(method) == "write",
        }
        requests: dict[str, float] = {}
        p50: dict[str, float] = {}
        p99: dict[str, float] = {}
        for kind, wanted in kinds.items():
            total: dict[float, float] = defaultdict(float)
            for (route, method, source), upper in diff.items():
                if route in OPS_ROUTES or not wanted(method, source):
                    continue
                for le, count in upper.items():
                    total[le] += count
            requests[kind] = total.get(math.inf, 0.0)
            p50[kind] = histogram_quantile(0.50, total) if total else math.nan
            p99[kind] = histogram_quantile(0.99, total) if total else math.nan
        return cls(requests=requests, p50_seconds=p50, p99_seconds=p99)

    @property
    def cached_within_limit(self) -> bool:
        value = self.p99_seconds.get("cached read", math.nan)
        return not math.isnan(value) and value < OWN_P99_LIMIT_S


# -- the client's statistics -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KindStats:
    requests: int
    failures: int
    p50_ms: float
    p95_ms: float
    p99_ms: float


@dataclass(frozen=True, slots=True)
class ClientStats:
    """What locust measured; built from its stats entries by `loadtests.locustfile`."""

    kinds: dict[str, KindStats]  # "read", "write"
    by_name: dict[str, KindStats] = field(default_factory=dict)

    @property
    def requests(self) -> int:
        return sum(k.requests for k in self.kinds.values())

    @property
    def failures(self) -> int:
        return sum(k.failures for k in self.kinds.values())


def percentile(times: Mapping[int, int], q: float) -> float:
    """The smallest recorded time (ms) at or under which a share `q` of requests finished."""
    total = sum(times.values())
    if total == 0:
        return math.nan
    rank = q * total
    seen = 0
    for value in sorted(times):
        seen += times[value]
        if seen >= rank:
            return float(value)
    return float(max(times))  # pragma: no cover - seen reaches total


def kind_stats(times: Mapping[int, int], requests: int, failures: int) -> KindStats:
    return KindStats(
        requests=requests,
        failures=failures,
        p50_ms=percentile(times, 0.50),
        p95_ms=percentile(times, 0.95),
        p99_ms=percentile(times, 0.99),
    )


# -- the verdict -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Check:
    witness: str  # "client" or "server"
    what: str
    value: float
    limit: float
    judged: bool = True  # False: no such requests in the run
    samples: float | None = None  # requests a P99 was taken over

    @property
    def passed(self) -> bool:
        # The objective is "below": reaching the limit fails.
        return not self.judged or self.value < self.limit

    def line(self) -> str:
        if not self.judged:
            return f"  n/a   {self.witness:6} {self.what}: no requests of this kind"
        unit = "ms" if "p99" in self.what else ""
        scale = 1000.0 if unit else 100.0
        shown = f"{self.value * scale:.2f}{unit or '%'}"
        limit = f"{self.limit * scale:.2f}{unit or '%'}"
        mark = "ok  " if self.passed else "FAIL"
        line = f"  {mark}  {self.witness:6} {self.what}: {shown} (limit < {limit})"
        if self.samples is not None and self.samples < FEW_FOR_P99:
            # Under 100 requests the 99th percentile is the slowest one: say so, so that a
            # verdict resting on one request is read as such.
            line += f"; over {self.samples:.0f} requests, so the slowest"
        return line


@dataclass(frozen=True, slots=True)
class Verdict:
    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    def failed(self) -> list[Check]:
        return [check for check in self.checks if not check.passed]

    def report(self) -> str:
        head = "SLO gate: PASS" if self.passed else "SLO gate: FAIL"
        return "\n".join([head, *(check.line() for check in self.checks)])


def _ratio(failures: float, requests: float) -> float:
    return failures / requests if requests else 0.0


def judge(client: ClientStats, server: ServerStats) -> Verdict:
    read_limit = OBJECTIVES.read_p99_seconds
    write_limit = OBJECTIVES.write_p99_seconds
    checks: list[Check] = []
    for kind, limit in (("read", read_limit), ("write", write_limit)):
        stats = client.kinds.get(kind)
        checks.append(
            Check(
                "client",
                f"{kind} p99",
                (stats.p99_ms / 1000.0) if stats else math.nan,
                limit,
                judged=bool(stats and stats.requests),
                samples=stats.requests if stats else None,
            )
        )
        checks.append(
            Check(
                "server",
                f"{kind} p99",
                server.p99_seconds.get(kind, math.nan),
                limit,
                judged=server.requests.get(kind, 0.0) > 0,
                samples=server.requests.get(kind),
            )
        )
    # A run that sent nothing proves nothing: zero requests fails the failure-ratio checks.
    checks.append(
        Check(
            "client",
            "failure ratio",
            _ratio(client.failures, client.requests) if client.requests else 1.0,
            OBJECTIVES.error_rate,
        )
    )
    server_total = sum(server.requests.values())
    checks.append(
        Check(
            "server",
            "failure ratio",
            _ratio(server.failures, server_total) if server_total else 1.0,
            OBJECTIVES.error_rate,
        )
    )
    return Verdict(tuple(checks))


def merge_times(many: Iterable[Mapping[int, int]]) -> dict[int, int]:
    out: dict[int, int] = defaultdict(int)
    for times in many:
        for value, count in times.items():
            out[value] += count
    return dict(out)
