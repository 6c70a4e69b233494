"""Read-through cache metrics: implements `cache`'s observer Protocol structurally."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from metrics.labels import OTHER, clamp
from metrics.tally import Tallies

LAYERS = frozenset({"memory", "redis"})
# cache.observer.Operation's values, plus a few Redis calls it may add without a new series.
OPERATIONS = frozenset(
    {
        "get",
        "set",
        "invalidate",
        "subscribe",
        "decode",
        "publish",
        "register",
        "delete",
        "ping",
        "script",
    }
)
BARRIER_OUTCOMES = frozenset({"acked", "lease_expired", "redis_down"})
LOAD_OUTCOMES = frozenset({"ok", "error"})
CUT_OFF_EVENTS = frozenset(
    {"announced", "announce_failed", "waited", "check_failed", "withdraw_failed"}
)
BREAKER_STATES = ("closed", "open", "half_open", OTHER)

# A load is one DynamoDB query plus rendering: milliseconds normally, up to the call deadline.
LOAD_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# Invalidation reaches other instances over Redis pub/sub: expected well under 100 ms.
INVALIDATION_BUCKETS = (
    0.001,
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.15,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)
# A write's barrier: one ack round trip (~1 ms) normally, the lease (50 ms) past the script's
# reply when an instance does not answer, plus the Redis timeout when Redis does not answer.
BARRIER_BUCKETS = (
    0.0005,
    0.001,
    0.002,
    0.005,
    0.01,
    0.02,
    0.03,
    0.05,
    0.06,
    0.075,
    0.1,
    0.15,
    0.25,
    0.5,
    1.0,
)


class CacheMetrics:
    def __init__(self, registry: CollectorRegistry, tallies: Tallies) -> None:
        self._hits = Counter(
            "hustlehub_cache_hits_total",
            "Lookups answered by a layer.",
            ["layer"],
            registry=registry,
        )
        self._misses = Counter(
            "hustlehub_cache_misses_total",
            "Lookups a layer could not answer.",
            ["layer"],
            registry=registry,
        )
        self._errors = Counter(
            "hustlehub_cache_errors_total",
            "Cache calls that failed (the cache fails open: the request went on without it).",
            ["layer", "operation"],
            registry=registry,
        )
        self._evictions = Counter(
            "hustlehub_cache_evictions_total",
            "Entries dropped to stay within the layer's size bound.",
            ["layer"],
            registry=registry,
        )
        self._stale = Counter(
            "hustlehub_cache_stale_served_total",
            "Expired entries served because the loader failed (stale-if-error).",
            ["layer"],
            registry=registry,
        )
        self._load = Histogram(
            "hustlehub_cache_load_duration_seconds",
            "Time to run a loader on a miss (one per key per process at a time).",
            ["outcome"],
            buckets=LOAD_BUCKETS,
            registry=registry,
        )
        self._invalidation_delay = Histogram(
            "hustlehub_cache_invalidation_delay_seconds",
            "Time from a write's invalidation being published to this process applying it.",
            buckets=INVALIDATION_BUCKETS,
            registry=registry,
        )
        self._barrier = Histogram(
            "hustlehub_cache_barrier_wait_seconds",
            "Time a write spent invalidating: Redis, then the acks of every live instance "
            "(or their leases running out).",
            buckets=BARRIER_BUCKETS,
            registry=registry,
        )
        self._barrier_outcomes = Counter(
            "hustlehub_cache_barrier_outcomes_total",
            "How write barriers ended: acked, lease_expired (an instance did not answer), "
            "redis_down (the invalidation is queued).",
            ["outcome"],
            registry=registry,
        )
        self._cut_off = Counter(
            "hustlehub_cache_cut_off_notices_total",
            "Cut-off notices: this process's renewed (announced) or not (announce_failed) while "
            "it had lost Redis; writes that waited a lease for another process's (waited) or "
            "because they could not be read (check_failed); withdrawals that failed.",
            ["event"],
            registry=registry,
        )
        self._lease_lapses = Counter(
            "hustlehub_cache_lease_lapses_total",
            "Times this process's in-process lease ran out with the channel up (a late PONG): "
            "memory was not served until the next one.",
            registry=registry,
        )
        # One series per state, 1 for the current one. livemax across workers: state="open"
        # reads 1 while any live worker's breaker is open.
        self._breaker = Gauge(
            "hustlehub_cache_breaker_state",
            "Redis circuit breaker state (1 for the current state, else 0).",
            ["state"],
            registry=registry,
            multiprocess_mode="livemax",
        )
        # Zero-valued series from the start, so rate() and absent() see them before the
        # first event (the Prometheus naming guide's advice for known label values).
        for layer in sorted(LAYERS):
            for counter in (self._hits, self._misses, self._evictions, self._stale):
                counter.labels(layer)
        for state in BREAKER_STATES:
            self._breaker.labels(state).set(0)
        for outcome in sorted(BARRIER_OUTCOMES):
            self._barrier_outcomes.labels(outcome)
        for outcome in sorted(LOAD_OUTCOMES):
            self._load.labels(outcome)
        for event in sorted(CUT_OFF_EVENTS):
            self._cut_off.labels(event)
        for operation in sorted(OPERATIONS):
            self._errors.labels("redis", operation)
        # hit() and miss() run on every cached read: tallies (metrics.tally), resolved once.
        self._hit_tallies = {
            layer: tallies.counter(self._hits.labels(layer)) for layer in sorted(LAYERS)
        }
        self._miss_tallies = {
            layer: tallies.counter(self._misses.labels(layer)) for layer in sorted(LAYERS)
        }

    def hit(self, layer: str) -> None:
        tally = self._hit_tallies.get(layer)
        if tally is None:
            self._hits.labels(clamp(layer, LAYERS)).inc()
        else:
            tally.count += 1

    def miss(self, layer: str) -> None:
        tally = self._miss_tallies.get(layer)
        if tally is None:
            self._misses.labels(clamp(layer, LAYERS)).inc()
        else:
            tally.count += 1

    def error(self, layer: str, operation: str) -> None:
        self._errors.labels(clamp(layer, LAYERS), clamp(operation, OPERATIONS)).inc()

    def eviction(self, layer: str, count: int) -> None:
        if count > 0:
            self._evictions.labels(clamp(layer, LAYERS)).inc(count)

    def load_finished(self, seconds: float, outcome: str) -> None:
        self._load.labels(clamp(outcome, LOAD_OUTCOMES)).observe(seconds)

    def stale_served(self, layer: str) -> None:
        self._stale.labels(clamp(layer, LAYERS)).inc()

    def breaker_state(self, state: str) -> None:
        current = clamp(state, frozenset(BREAKER_STATES))
        for candidate in BREAKER_STATES:
            self._breaker.labels(candidate).set(1 if candidate == current else 0)

    def invalidation_delay(self, seconds: float) -> None:
        # Clocks of two hosts can disagree by a little: a negative delay means "immediate".
        self._invalidation_delay.observe(max(seconds, 0.0))

    def barrier_finished(self, seconds: float, outcome: str) -> None:
        self._barrier.observe(seconds)
        self._barrier_outcomes.labels(clamp(outcome, BARRIER_OUTCOMES)).inc()

    def lease_lapsed(self) -> None:
        self._lease_lapses.inc()

    def cut_off(self, event: str) -> None:
        self._cut_off.labels(clamp(event, CUT_OFF_EVENTS)).inc()
