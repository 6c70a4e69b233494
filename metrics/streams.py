"""Stream consumer metrics: implements the service's `StreamObserver` Protocol structurally."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from metrics.labels import OTHER, clamp

EVENTS = frozenset({"INSERT", "MODIFY", "REMOVE"})
EFFECTS = ("invalidated", "none", "handled")
# The calls the consumer makes, plus its own steps ("Start": the first listing's bound).
OPERATIONS = frozenset(
    {"DescribeTable", "DescribeStream", "GetShardIterator", "GetRecords", "Invalidate", "Start",
     "Reader", "Supervisor", "Ledger"}
)  # fmt: skip
# DynamoDB Streams' documented error codes, the consumer's own, and botocore's connection
# failures (by exception class name).
ERROR_CODES = frozenset(
    {
        "AccessDeniedException",
        "ExpiredIteratorException",
        "InternalServerError",
        "LimitExceededException",
        "ResourceNotFoundException",
        "ThrottlingException",
        "TrimmedDataAccessException",
        "ValidationException",
        "StreamNotEnabled",
        "Timeout",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "EndpointConnectionError",
        "ConnectionClosedError",
        "HTTPClientError",
        "TimeoutError",
    }
)
# Records normally reach the consumer within a second; past a minute it is falling behind.
AGE_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


class StreamMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self._records = Counter(
            "hustlehub_stream_records_total",
            "DynamoDB stream records applied, by event and effect: invalidated, none (no cached"
            " read shows the item), handled (the API's own change, invalidated by it already).",
            ["event", "effect"],
            registry=registry,
        )
        self._invalidations = Counter(
            "hustlehub_stream_invalidations_total",
            "Cache invalidations sent for batches of stream records.",
            registry=registry,
        )
        self._tags = Counter(
            "hustlehub_stream_invalidated_tags_total",
            "Tags named by those invalidations.",
            registry=registry,
        )
        self._age = Histogram(
            "hustlehub_stream_record_age_seconds",
            "Age of a batch's newest record when its invalidation had been sent.",
            buckets=AGE_BUCKETS,
            registry=registry,
        )
        self._lag = Gauge(
            "hustlehub_stream_lag_seconds",
            "Age of the newest record of the last batch applied (DynamoDB's IteratorAge).",
            registry=registry,
            multiprocess_mode="livemax",
        )
        self._errors = Counter(
            "hustlehub_stream_errors_total",
            "Stream consumer calls that failed (each is retried after a backoff).",
            ["operation", "code"],
            registry=registry,
        )
        self._shards = Gauge(
            "hustlehub_stream_shards",
            "Stream shards being read.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        for event in sorted(EVENTS):
            for effect in EFFECTS:
                self._records.labels(event, effect)
        # The code is what the failure says; "other" stands for all of them until one comes.
        for operation in sorted(OPERATIONS):
            self._errors.labels(operation, OTHER)

    def record(self, event: str, *, invalidates: bool, handled: bool = False) -> None:
        effect = EFFECTS[2] if handled else EFFECTS[0] if invalidates else EFFECTS[1]
        self._records.labels(clamp(event, EVENTS), effect).inc()

    def invalidated(self, tags: int) -> None:
        self._invalidations.inc()
        self._tags.inc(max(tags, 0))

    def lag(self, seconds: float) -> None:
        self._age.observe(seconds)
        self._lag.set(seconds)

    def error(self, operation: str, code: str) -> None:
        self._errors.labels(clamp(operation, OPERATIONS), clamp(code, ERROR_CODES)).inc()

    def shards(self, count: int) -> None:
        self._shards.set(count)
