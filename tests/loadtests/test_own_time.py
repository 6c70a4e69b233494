"""The service's own time: what a request waited on DynamoDB and Redis is taken out of its
duration (metrics.waits), recorded by source, and read back by the gate at P50 and P99."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient
from prometheus_client import CollectorRegistry, generate_latest

from loadtests import gate
from metrics import waits
from metrics.registry import Metrics
from service.runtime.appkeys import METRICS
from tests.api.factories import create_category, create_listing


def _own(metrics: Metrics, method: str, source: str, seconds: float, n: int) -> None:
    child = metrics.http.own_duration.labels("/v1/listings/{ref}", method, source)
    for _ in range(n):
        child.observe(seconds)


def test_the_gate_reads_own_time_for_reads_cached_reads_and_writes() -> None:
    metrics = Metrics(CollectorRegistry())
    _own(metrics, "GET", "memory", 0.4, 100)  # before the run: not counted
    before = generate_latest(metrics.registry).decode()
    _own(metrics, "GET", "memory", 0.0004, 970)
    _own(metrics, "GET", "redis", 0.0008, 10)
    _own(metrics, "GET", "miss", 0.02, 20)
    _own(metrics, "PATCH", "none", 0.004, 5)
    own = gate.OwnStats.from_scrapes(before, generate_latest(metrics.registry).decode())
    assert own.requests == {"read": 1000, "cached read": 980, "write": 5}
    assert own.p50_seconds["cached read"] <= 0.0005
    assert 0.0005 < own.p99_seconds["cached read"] <= 0.001
    assert own.p99_seconds["read"] > 0.01  # the misses' own time is in the reads' tail
    assert own.cached_within_limit


async def test_time_waited_is_counted_once_and_only_inside_a_request() -> None:
    waits.add(5.0)  # outside any request: nowhere to count it
    token = waits.begin("req-1")
    waits.add(0.25)
    with waits.waited():
        waits.add(100.0)  # a DynamoDB call inside a timed lookup: the lookup's time counts
        await asyncio.sleep(0)
    box = waits.end(token)
    assert box is not None
    assert 0.25 <= box.waited < 100.0
    assert box.dynamodb_calls == 2  # each call counted, wherever its time went
    assert box.request_id == "req-1"
    assert waits.current() is None


async def test_a_hits_own_time_is_its_whole_time_and_a_miss_leaves_its_waits_out(
    client: TestClient[Any, Any], admin_token: str
) -> None:
    category = await create_category(client, admin_token)
    listing = await create_listing(client, admin_token, category["id"])
    path = f"/v1/listings/{listing['id']}"
    assert (await client.get(path)).headers["X-Cache"] == "miss"
    # Memory, or Redis if a stalled loop let the 50 ms lease lapse (cache.lease): a hit either way.
    hit = (await client.get(path)).headers["X-Cache"]
    assert hit in ("memory", "redis")
    registry = client.app[METRICS].registry
    registry.collect()  # flushes the tallies
    route = "/v1/listings/{ref}"

    def value(name: str, **labels: str) -> float:
        return registry.get_sample_value(name, {"route": route, "method": "GET", **labels}) or 0.0

    own = "hustlehub_http_own_duration_seconds"
    assert value(f"{own}_count", source="miss") == 1
    assert value(f"{own}_count", source=hit) == 1
    total = "hustlehub_http_request_duration_seconds_sum"
    # The miss waited on Redis and DynamoDB: its own time is a small part of its duration.
    assert value(f"{own}_sum", source="miss") < value(total, status_class="2xx") / 2
