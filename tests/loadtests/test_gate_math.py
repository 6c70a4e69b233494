"""The gate's arithmetic, against histograms rendered by the service's own metric classes."""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from loadtests import gate
from loadtests.report import cache_summary
from metrics.registry import Metrics
from metrics.slo import OBJECTIVES

INF = math.inf


def test_quantile_interpolates_within_the_bucket_like_promql() -> None:
    cumulative = {0.1: 50.0, 0.2: 90.0, 0.5: 100.0, INF: 100.0}
    assert gate.histogram_quantile(0.5, cumulative) == pytest.approx(0.1)
    assert gate.histogram_quantile(0.99, cumulative) == pytest.approx(0.2 + 0.3 * 9 / 10)
    # The first bucket interpolates from zero.
    assert gate.histogram_quantile(0.25, cumulative) == pytest.approx(0.05)


def test_quantile_in_the_inf_bucket_is_the_largest_finite_bound() -> None:
    assert gate.histogram_quantile(0.99, {0.1: 10.0, 1.0: 10.0, INF: 20.0}) == 1.0


def test_quantile_of_nothing_is_nan() -> None:
    assert math.isnan(gate.histogram_quantile(0.99, {0.1: 0.0, INF: 0.0}))
    with pytest.raises(ValueError, match=r"\+Inf"):
        gate.histogram_quantile(0.99, {0.1: 1.0})


def _scrape(metrics: Metrics) -> str:
    return generate_latest(metrics.registry).decode()


def _observe(
    metrics: Metrics, route: str, method: str, seconds: float, n: int, status: str = "2xx"
) -> None:
    child = metrics.http.request_duration.labels(route, method, status)
    for _ in range(n):
        child.observe(seconds)


def test_server_stats_take_the_delta_and_split_reads_from_writes() -> None:
    metrics = Metrics(CollectorRegistry())
    # Before the run: slow requests that must not count.
    _observe(metrics, "/v1/listings/{ref}", "GET", 3.0, 500)
    before = _scrape(metrics)
    _observe(metrics, "/v1/listings/{ref}", "GET", 0.004, 990)
    _observe(metrics, "/v1/categories", "HEAD", 0.004, 10)
    _observe(metrics, "/v1/admin/listings", "POST", 0.03, 20)
    _observe(metrics, "/metrics", "GET", 9.0, 50)  # the gate's own scrapes are not traffic
    _observe(metrics, "/v1/me/favourites/{listing_id}", "PUT", 0.03, 1, status="5xx")
    stats = gate.ServerStats.from_scrapes(before, _scrape(metrics))
    assert stats.requests == {"read": 1000, "write": 21}
    assert stats.failures == 1
    assert 0.0025 < stats.p99_seconds["read"] <= 0.005
    assert 0.02 < stats.p99_seconds["write"] <= 0.03


def _client(read_p99_ms: float, *, requests: int = 10_000, failures: int = 0) -> gate.ClientStats:
    times = {5: requests - 200, round(read_p99_ms): 200}  # the slowest 2%: they set the P99
    kind = gate.kind_stats(times, requests, failures)
    return gate.ClientStats(kinds={"read": kind})


def _server(
    read_p99_s: float, *, requests: float = 10_000, failures: float = 0
) -> gate.ServerStats:
    return gate.ServerStats(
        requests={"read": requests, "write": 0.0},
        failures=failures,
        p99_seconds={"read": read_p99_s, "write": math.nan},
    )


def test_the_objective_itself_fails_and_just_under_it_passes() -> None:
    limit_ms = OBJECTIVES.read_p99_seconds * 1000
    assert gate.judge(_client(limit_ms - 1), _server(0.004)).passed
    at_limit = gate.judge(_client(limit_ms), _server(0.004))
    assert not at_limit.passed
    assert [(c.witness, c.what) for c in at_limit.failed()] == [("client", "read p99")]
    server_slow = gate.judge(_client(5), _server(OBJECTIVES.read_p99_seconds))
    assert [(c.witness, c.what) for c in server_slow.failed()] == [("server", "read p99")]


def test_failure_ratio_at_the_error_rate_fails() -> None:
    n = 10_000
    at_rate = round(n * OBJECTIVES.error_rate)
    assert gate.judge(_client(5, failures=at_rate - 1), _server(0.004)).passed
    verdict = gate.judge(_client(5, failures=at_rate), _server(0.004, failures=at_rate))
    assert {(c.witness, c.what) for c in verdict.failed()} == {
        ("client", "failure ratio"),
        ("server", "failure ratio"),
    }


def test_a_run_that_sent_nothing_fails() -> None:
    empty = gate.judge(gate.ClientStats(kinds={}), _server(math.nan, requests=0))
    assert not empty.passed
    assert "FAIL" in empty.report()


def test_a_restarted_service_is_refused() -> None:
    metrics = Metrics(CollectorRegistry())
    _observe(metrics, "/v1/categories", "GET", 0.004, 10)
    after_restart = _scrape(Metrics(CollectorRegistry()))
    fresh = Metrics(CollectorRegistry())
    _observe(fresh, "/v1/categories", "GET", 0.004, 1)
    with pytest.raises(ValueError, match="backwards"):
        gate.ServerStats.from_scrapes(_scrape(metrics), _scrape(fresh))
    assert after_restart  # an empty registry still renders


def test_cache_summary_counts_lookups_at_the_first_layer() -> None:
    metrics = Metrics(CollectorRegistry())
    before = _scrape(metrics)
    for _ in range(8):
        metrics.cache.hit("memory")
    for _ in range(2):
        metrics.cache.miss("memory")
    metrics.cache.hit("redis")
    summary = cache_summary(before, _scrape(metrics))
    assert summary["hit_ratio"] == pytest.approx(0.9)
    assert summary["redis_hits"] == 1


def test_a_p99_over_few_requests_is_reported_as_the_slowest_one() -> None:
    client = gate.ClientStats(kinds={"read": gate.kind_stats({5: 87, 40: 1}, 88, 0)})
    few = gate.judge(client, _server(0.004, requests=88))
    lines = [line for line in few.report().splitlines() if "read p99" in line]
    assert len(lines) == 2
    assert all("over 88 requests, so the slowest" in line for line in lines)
    many = gate.judge(_client(5, requests=10_000), _server(0.004, requests=10_000))
    assert "so the slowest" not in many.report()
