"""Capacity per 1,000 requests: the arithmetic, the parsing of the service's real /metrics, and
that every DynamoDB call the service makes asks for its consumed capacity."""

from __future__ import annotations

import math
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from prometheus_client import CollectorRegistry, generate_latest

from loadtests import capacity, gate
from metrics.registry import Metrics
from service.runtime.appkeys import METRICS, TABLE
from tests.api.factories import create_category, create_listing
from tests.support.app import bearer

Client = TestClient[Any, Any]
READ = "hustlehub_dynamodb_consumed_read_capacity_units_total"
WRITE = "hustlehub_dynamodb_consumed_write_capacity_units_total"


def test_units_are_summed_over_table_and_indexes_and_divided_per_thousand() -> None:
    metrics = Metrics(CollectorRegistry())
    metrics.dynamodb.consumed("HustleHub", None, 100.0, 0.0)  # before the phase: not counted
    before = generate_latest(metrics.registry).decode()
    metrics.dynamodb.consumed("HustleHub", None, 30.0, 0.0)
    metrics.dynamodb.consumed("HustleHub", "GSI1", 10.0, 0.0)
    metrics.dynamodb.consumed("HustleHub", None, 0.0, 12.0)
    metrics.dynamodb.consumed("HustleHub", "GSI1", 0.0, 4.0)
    for _ in range(6):
        metrics.dynamodb.call_finished("GetItem", 0.003, "ok", None)
    metrics.dynamodb.call_finished("Query", 0.01, "error", "ValidationException")
    after = generate_latest(metrics.registry).decode()

    cap = capacity.Capacity.from_scrapes(before, after, {"read": 1800.0, "write": 200.0})
    assert (cap.read_units, cap.write_units, cap.requests) == (40.0, 16.0, 2000.0)
    assert cap.rcu_per_1000_requests == pytest.approx(20.0)
    assert cap.wcu_per_1000_requests == pytest.approx(8.0)
    assert cap.rcu_per_1000_reads == pytest.approx(40.0 * 1000 / 1800)
    assert cap.wcu_per_1000_writes == pytest.approx(80.0)
    assert cap.by_index == {
        "table": {"read": 30.0, "write": 12.0},
        "GSI1": {"read": 10.0, "write": 4.0},
    }
    assert cap.calls == {"GetItem": 6.0, "Query": 1.0}
    assert cap.calls_per_1000_requests() == {"GetItem": 3.0, "Query": 0.5}
    figures = cap.as_dict()
    assert figures["rcu_per_1000_requests"] == pytest.approx(20.0)
    assert "1.0" in figures["note"]
    rendered = capacity.render({"cached": {**figures, "hit_ratio": 0.98}})
    assert "20.0" in rendered
    assert "98.0%" in rendered
    assert "moto" in rendered
    assert "GetItem 3.0, Query 0.5" in rendered


def test_no_requests_is_nan_and_a_counter_going_back_is_refused() -> None:
    metrics = Metrics(CollectorRegistry())
    empty = generate_latest(metrics.registry).decode()
    cap = capacity.Capacity.from_scrapes(empty, empty, {})
    assert cap.read_units == 0.0
    assert math.isnan(cap.rcu_per_1000_requests)
    metrics.dynamodb.consumed("HustleHub", None, 5.0, 0.0)
    later = generate_latest(metrics.registry).decode()
    # A scrape of a restarted service lacks the series, or has it lower: both refused.
    with pytest.raises(ValueError, match="backwards"):
        capacity.Capacity.from_scrapes(later, empty, {"read": 1.0})
    fresh = Metrics(CollectorRegistry())
    fresh.dynamodb.consumed("HustleHub", None, 1.0, 0.0)
    with pytest.raises(ValueError, match="backwards"):
        capacity.Capacity.from_scrapes(later, generate_latest(fresh.registry).decode(), {})


async def scrape(client: Client) -> str:
    response = await client.get("/metrics")
    assert response.status == 200
    return await response.text()


def sample(client: Client, name: str) -> float:
    registry = client.app[METRICS].registry
    total = 0.0
    for family in registry.collect():
        for found in family.samples:
            if found.name == name:
                total += found.value
    return total


async def test_the_services_own_metrics_price_a_cold_read_and_a_cached_one(
    client: Client, admin_token: str
) -> None:
    category = await create_category(client, admin_token)
    listing = await create_listing(client, admin_token, category["id"])
    path = f"/v1/listings/{listing['id']}"

    before = await scrape(client)
    registry_before = sample(client, READ)
    assert (await client.get(path)).headers["X-Cache"] == "miss"
    cold = await scrape(client)
    assert (await client.get(path)).headers["X-Cache"] == "memory"
    warm = await scrape(client)

    cold_phase = capacity.Capacity.from_scrapes(
        before, cold, gate.ServerStats.from_scrapes(before, cold).requests
    )
    cached_phase = capacity.Capacity.from_scrapes(
        cold, warm, gate.ServerStats.from_scrapes(cold, warm).requests
    )
    # The parse of the exposition text agrees with the registry it was rendered from.
    assert cold_phase.read_units == pytest.approx(sample(client, READ) - registry_before)
    assert cold_phase.read_units > 0  # the GetItem by id
    assert cold_phase.calls == {"GetItem": 1.0}
    assert cold_phase.reads == 1.0  # /metrics itself is not user traffic
    assert cold_phase.rcu_per_1000_reads == pytest.approx(1000.0 * cold_phase.read_units)
    assert (cached_phase.reads, cached_phase.read_units) == (1.0, 0.0)
    assert cached_phase.rcu_per_1000_reads == 0.0

    before_write = await scrape(client)
    write_units_before = sample(client, WRITE)
    await create_listing(client, admin_token, category["id"])
    after_write = await scrape(client)
    write = capacity.Capacity.from_scrapes(
        before_write, after_write, gate.ServerStats.from_scrapes(before_write, after_write).requests
    )
    assert write.writes == 1.0
    assert write.write_units == pytest.approx(sample(client, WRITE) - write_units_before)
    assert write.calls.get("TransactWriteItems") == 1.0
    assert write.calls_per_1000_requests()["TransactWriteItems"] == pytest.approx(1000.0)
    assert write.wcu_per_1000_writes == pytest.approx(1000.0 * write.write_units)


async def test_every_dynamodb_call_asks_for_its_consumed_capacity(
    client: Client, admin_token: str, user_token: str
) -> None:
    seen: list[tuple[str, Any]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        seen.append((model.name, params.get("ReturnConsumedCapacity")))

    events = client.app[TABLE].client.meta.events
    events.register("provide-client-params.dynamodb.*", record)
    try:
        category = await create_category(client, admin_token)
        listing = await create_listing(client, admin_token, category["id"])
        for path in (
            "/v1/categories",
            f"/v1/categories/{category['slug']}",
            f"/v1/categories/{category['slug']}/listings",
            f"/v1/listings/{listing['slug']}",
        ):
            assert (await client.get(path)).status == 200
        user = bearer(user_token)
        assert (await client.put("/v1/me", json={"displayName": "Ann"}, headers=user)).status in (
            200,
            201,
        )
        assert (await client.put(f"/v1/me/favourites/{listing['id']}", headers=user)).status == 201
        assert (await client.get("/v1/me/favourites", headers=user)).status == 200
        assert (
            await client.delete(f"/v1/me/favourites/{listing['id']}", headers=user)
        ).status == 204
        etag = (await client.get(f"/v1/listings/{listing['id']}")).headers["ETag"]
        patched = await client.patch(
            f"/v1/admin/listings/{listing['id']}",
            json={"title": "Renamed"},
            headers={**bearer(admin_token), "If-Match": etag},
        )
        assert patched.status == 200, await patched.text()
        assert (
            await client.delete(f"/v1/admin/listings/{listing['id']}", headers=bearer(admin_token))
        ).status == 204
    finally:
        events.unregister("provide-client-params.dynamodb.*", record)
    operations = {name for name, _ in seen}
    assert {"GetItem", "Query", "TransactWriteItems", "BatchGetItem"} <= operations
    unasked = [
        (name, asked)
        for name, asked in seen
        if name != "DescribeTable" and asked not in ("TOTAL", "INDEXES")
    ]
    assert unasked == []
