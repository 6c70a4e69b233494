"""DynamoMetrics, CacheMetrics and AuthMetrics: the series they produce, labels clamped."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from cache.observer import CacheObserver
from metrics.auth import FAILURE_REASONS
from metrics.dynamodb import OUTCOMES, SERVED_OPERATIONS, THROTTLE_CODES
from metrics.registry import Metrics
from service.store.observer import StoreObserver
from tests.metrics.samples import label_values


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_dynamo_metrics_record_a_call_its_retries_and_capacity(
    metrics: Metrics, registry: CollectorRegistry
) -> None:
    observer: StoreObserver = metrics.dynamodb  # mypy checks the structural fit
    observer.retried("Query", "ProvisionedThroughputExceededException")
    observer.throttled("Query")
    observer.call_finished("Query", 0.012, "ok", None)
    observer.call_finished("get_item", 0.004, "ok", None)  # botocore spelling
    observer.call_finished("TransactWriteItems", 0.03, "error", "TransactionCanceledException")
    observer.call_finished("PutItem", 3.0, "timeout", "Timeout")
    observer.call_finished("DeleteItem", 0.5, "error", None)
    observer.consumed("HustleHub", None, 2.5, 0)
    observer.consumed("HustleHub", "GSI1", 0.5, 0)
    observer.consumed("HustleHub", None, 0, 3)
    observer.unprocessed("BatchWriteItem", 4)

    assert value(registry, "hustlehub_dynamodb_requests_total", operation="Query", outcome="ok")
    assert (
        value(registry, "hustlehub_dynamodb_requests_total", operation="GetItem", outcome="ok") == 1
    )
    assert (
        value(
            registry,
            "hustlehub_dynamodb_errors_total",
            operation="TransactWriteItems",
            code="TransactionCanceledException",
        )
        == 1
    )
    errors = "hustlehub_dynamodb_errors_total"
    assert value(registry, errors, operation="PutItem", code="Timeout") == 1
    assert value(registry, errors, operation="DeleteItem", code="none") == 1
    assert value(registry, "hustlehub_dynamodb_throttled_requests_total", operation="Query") == 1
    assert (
        value(
            registry,
            "hustlehub_dynamodb_retries_total",
            operation="Query",
            code="ProvisionedThroughputExceededException",
        )
        == 1
    )
    read = "hustlehub_dynamodb_consumed_read_capacity_units_total"
    assert value(registry, read, table="HustleHub", index="table") == 2.5
    assert value(registry, read, table="HustleHub", index="GSI1") == 0.5
    write = "hustlehub_dynamodb_consumed_write_capacity_units_total"
    assert value(registry, write, table="HustleHub", index="table") == 3
    assert (
        value(registry, "hustlehub_dynamodb_unprocessed_items_total", operation="BatchWriteItem")
        == 4
    )
    duration = "hustlehub_dynamodb_operation_duration_seconds_bucket"
    assert value(registry, duration, operation="Query", le="0.015") == 1
    assert value(registry, duration, operation="Query", le="0.01") == 0


def test_dynamo_metrics_clamp_unknown_labels(metrics: Metrics, registry: CollectorRegistry) -> None:
    dynamodb = metrics.dynamodb
    for i in range(50):
        dynamodb.call_finished(f"Operation{i}", 0.01, f"weird{i}", f"SomeNewException{i}")
        dynamodb.retried(f"op{i}", f"Code{i}")
        dynamodb.throttled(f"op{i}")
    # The known values' zero-valued series exist from the start; every unknown one is "other".
    operations = set(SERVED_OPERATIONS) | {"other"}
    codes = set(THROTTLE_CODES) | {"other"}
    assert label_values(registry, "hustlehub_dynamodb_requests_total", "operation") == operations
    assert label_values(registry, "hustlehub_dynamodb_requests_total", "outcome") == OUTCOMES | {
        "other"
    }
    assert label_values(registry, "hustlehub_dynamodb_errors_total", "code") == codes
    assert label_values(registry, "hustlehub_dynamodb_retries_total", "code") == codes
    assert value(registry, "hustlehub_dynamodb_errors_total", operation="other", code="other") == 50


def test_cache_metrics_count_per_layer(metrics: Metrics, registry: CollectorRegistry) -> None:
    observer: CacheObserver = metrics.cache
    observer.hit("memory")
    observer.hit("memory")
    observer.miss("memory")
    observer.hit("redis")
    observer.error("redis", "get")
    observer.error("redis", "decode")
    observer.eviction("memory", 3)
    observer.stale_served("redis")
    observer.load_finished(0.02, "ok")
    observer.load_finished(0.2, "error")
    observer.invalidation_delay(0.08)

    assert value(registry, "hustlehub_cache_hits_total", layer="memory") == 2
    assert value(registry, "hustlehub_cache_hits_total", layer="redis") == 1
    assert value(registry, "hustlehub_cache_misses_total", layer="memory") == 1
    assert value(registry, "hustlehub_cache_misses_total", layer="redis") == 0  # pre-created
    assert value(registry, "hustlehub_cache_errors_total", layer="redis", operation="get") == 1
    assert value(registry, "hustlehub_cache_errors_total", layer="redis", operation="decode") == 1
    assert value(registry, "hustlehub_cache_evictions_total", layer="memory") == 3
    assert value(registry, "hustlehub_cache_stale_served_total", layer="redis") == 1
    load = "hustlehub_cache_load_duration_seconds_count"
    assert value(registry, load, outcome="ok") == 1
    assert value(registry, load, outcome="error") == 1
    delay = "hustlehub_cache_invalidation_delay_seconds_bucket"
    assert value(registry, delay, le="0.075") == 0
    assert value(registry, delay, le="0.1") == 1


def test_cache_barrier_metrics(metrics: Metrics, registry: CollectorRegistry) -> None:
    observer: CacheObserver = metrics.cache
    outcomes = "hustlehub_cache_barrier_outcomes_total"
    # Every outcome exists at 0 before the first write, so rate() and alerts see it.
    assert label_values(registry, outcomes, "outcome") == {"acked", "lease_expired", "redis_down"}
    observer.barrier_finished(0.0015, "acked")
    observer.barrier_finished(0.055, "lease_expired")
    observer.barrier_finished(0.2, "redis_down")
    observer.barrier_finished(0.001, "maybe")
    observer.lease_lapsed()
    observer.lease_lapsed()

    assert value(registry, outcomes, outcome="acked") == 1
    assert value(registry, outcomes, outcome="lease_expired") == 1
    assert value(registry, outcomes, outcome="redis_down") == 1
    assert value(registry, outcomes, outcome="other") == 1
    wait = "hustlehub_cache_barrier_wait_seconds_bucket"
    assert value(registry, wait, le="0.001") == 1
    assert value(registry, wait, le="0.002") == 2
    assert value(registry, wait, le="0.05") == 2
    assert value(registry, wait, le="0.06") == 3
    assert value(registry, wait, le="+Inf") == 4
    assert value(registry, "hustlehub_cache_lease_lapses_total") == 2


def test_cache_metrics_clamp_unknown_labels(metrics: Metrics, registry: CollectorRegistry) -> None:
    cache = metrics.cache
    cache.hit("disk")
    cache.error("memcached", "flushall")
    cache.load_finished(0.01, "maybe")
    assert label_values(registry, "hustlehub_cache_hits_total", "layer") == {
        "memory",
        "redis",
        "other",
    }
    assert value(registry, "hustlehub_cache_errors_total", layer="other", operation="other") == 1
    assert label_values(registry, "hustlehub_cache_load_duration_seconds_count", "outcome") == {
        "ok",
        "error",
        "other",
    }


def test_breaker_state_is_one_hot(metrics: Metrics, registry: CollectorRegistry) -> None:
    def states() -> dict[str, float | None]:
        return {
            s: value(registry, "hustlehub_cache_breaker_state", state=s)
            for s in ("closed", "open", "half_open", "other")
        }

    metrics.cache.breaker_state("open")
    assert states() == {"closed": 0, "open": 1, "half_open": 0, "other": 0}
    metrics.cache.breaker_state("half_open")
    assert states() == {"closed": 0, "open": 0, "half_open": 1, "other": 0}
    metrics.cache.breaker_state("melted")
    assert states() == {"closed": 0, "open": 0, "half_open": 0, "other": 1}


def test_auth_failures_and_jwks_refreshes(metrics: Metrics, registry: CollectorRegistry) -> None:
    metrics.auth.failure("expired")
    metrics.auth.failure("expired")
    metrics.auth.failure("<script>")
    metrics.auth.jwks_refresh("ok")
    metrics.auth.jwks_refresh("timeout")

    failures = "hustlehub_auth_failures_total"
    assert value(registry, failures, reason="expired") == 2
    assert value(registry, failures, reason="other") == 1
    assert value(registry, failures, reason="bad_signature") == 0  # pre-created
    assert label_values(registry, failures, "reason") == FAILURE_REASONS | {"other"}
    refreshes = "hustlehub_auth_jwks_refreshes_total"
    assert value(registry, refreshes, outcome="ok") == 1
    assert label_values(registry, refreshes, "outcome") == {"ok", "error", "other"}


def test_every_metric_follows_the_naming_rule(
    metrics: Metrics, registry: CollectorRegistry
) -> None:
    names = {family.name for family in registry.collect()}
    assert names, "nothing registered"
    for family in registry.collect():
        assert family.name.startswith("hustlehub_"), family.name
        if family.type == "counter":
            # prometheus_client strips "_total" from the family name; samples carry it.
            assert all(s.name.endswith(("_total", "_created")) for s in family.samples)
        if family.type == "histogram":
            assert family.name.endswith("_seconds"), family.name


def test_metrics_stay_off_the_global_registry() -> None:
    from prometheus_client import REGISTRY

    before = set(REGISTRY._names_to_collectors)
    Metrics(CollectorRegistry())
    assert set(REGISTRY._names_to_collectors) == before
    assert not any(name.startswith("hustlehub_") for name in REGISTRY._names_to_collectors)
