"""Filtered category pages and the cache: one chunk for a small category whatever the filter,
the page's headers, ETag and 304, invalidation across instances, stale-if-error, stampedes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from service.app import create_app
from service.config import Settings
from service.runtime.appkeys import METRICS
from tests.api.filtering import QUERIES, Client, counting, get_page, matches, page_path, seed
from tests.metrics.samples import ok_calls
from tests.support.app import AiohttpClient, bearer
from tests.support.faultproxy import FaultProxy, Mode


async def test_distinct_filters_cost_no_dynamodb_query_of_their_own(
    client: Client, admin_token: str
) -> None:
    category, _ = await seed(client, admin_token)
    ref = category["slug"]
    with counting(client, "Query") as queries, counting(client, "GetItem") as gets:
        await get_page(client, ref, [("remote", "true")])
        loads = len(queries)
        first_gets = len(gets)
        assert loads >= 1  # the category's one chunk, read once
        for query in QUERIES:
            for limit in ("1", "3", "50"):
                page = await get_page(client, ref, [*query, ("limit", limit)])
                if page["nextCursor"]:
                    await get_page(
                        client, ref, [*query, ("limit", limit), ("cursor", page["nextCursor"])]
                    )
        assert len(queries) == loads, "a filter combination cost a DynamoDB query"
        assert len(gets) == first_gets
    assert len(QUERIES) * 3 > 50  # many distinct combinations, one load


async def test_filtered_pages_have_the_page_headers_etag_and_304(
    client: Client, admin_token: str
) -> None:
    category, _ = await seed(client, admin_token)
    plain = await client.get(f"/v1/categories/{category['slug']}/listings")
    path = page_path(category["slug"], [("skills", "python")])
    first = await client.get(path)
    second = await client.get(path)
    assert (first.status, second.status) == (200, 200)
    assert first.headers["X-Cache"] == "miss"
    assert second.headers["X-Cache"] == "memory"
    assert first.headers["Cache-Control"] == plain.headers["Cache-Control"]
    assert first.headers["Content-Type"].startswith("application/json")
    assert first.headers["ETag"] == second.headers["ETag"]
    assert await first.read() == await second.read()
    assert first.headers["ETag"] != plain.headers["ETag"]
    conditional = await client.get(path, headers={"If-None-Match": first.headers["ETag"]})
    assert conditional.status == 304
    assert await conditional.read() == b""
    assert conditional.headers["X-Cache"] == "memory"
    other = await client.get(
        page_path(category["slug"], [("skills", "sql")]),
        headers={"If-None-Match": first.headers["ETag"]},
    )
    assert other.status == 200
    assert other.headers["X-Cache"] == "memory"  # the same chunk, another filter
    # The same filter spelled otherwise is the same answer; another limit is another one.
    spelled = await client.get(page_path(category["slug"], [("skills", " PYTHON ")]))
    assert spelled.headers["ETag"] == first.headers["ETag"]
    assert await spelled.read() == await first.read()
    shorter = await client.get(page_path(category["slug"], [("skills", "python"), ("limit", "1")]))
    assert shorter.headers["ETag"] != first.headers["ETag"]


async def test_another_instance_reads_the_collection_from_redis_and_drops_it_on_a_write(
    aiohttp_client: AiohttpClient, settings: Settings, admin_token: str
) -> None:
    # Two instances sharing the table and Redis (the same settings, so the same prefix).
    first = await aiohttp_client(create_app(settings))
    second = await aiohttp_client(create_app(settings))
    category, everything = await seed(first, admin_token)
    path = page_path(category["slug"], [("remote", "true")])
    assert (await first.get(path)).headers["X-Cache"] == "miss"
    with counting(second, "Query") as queries:
        shared = await second.get(path)
        assert shared.headers["X-Cache"] == "redis"
        assert (await second.get(path)).headers["X-Cache"] == "memory"
        other = await second.get(page_path(category["slug"], [("skills", "sql")]))
        assert other.headers["X-Cache"] == "memory"
    assert queries == []
    office = next(x for x in everything if not x["remote"])
    response = await first.patch(
        f"/v1/admin/listings/{office['id']}",
        json={"remote": True},
        headers={**bearer(admin_token), "If-Match": f'"v{office["version"]}"'},
    )
    assert response.status == 200
    # The other instance learns of the write over Redis pub/sub (the README's bound).
    deadline = time.monotonic() + 0.5
    for _ in range(100):  # bounded in count and in time
        items = (await (await second.get(path)).json())["items"]
        if office["id"] in [x["id"] for x in items] or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.01)
    assert office["id"] in [x["id"] for x in items]


@pytest.fixture
async def dynamodb_proxy(moto_endpoint: str) -> AsyncIterator[FaultProxy]:
    upstream = urlsplit(moto_endpoint)
    async with FaultProxy(upstream.hostname or "127.0.0.1", upstream.port or 80) as proxy:
        yield proxy


async def test_while_dynamodb_is_down_any_filter_is_served_from_the_stale_collection(
    aiohttp_client: AiohttpClient,
    settings: Settings,
    admin_token: str,
    dynamodb_proxy: FaultProxy,
) -> None:
    writer = await aiohttp_client(create_app(settings))
    category, everything = await seed(writer, admin_token)
    flaky = settings.model_copy(
        update={
            "dynamodb_endpoint": f"http://127.0.0.1:{dynamodb_proxy.port}",
            "dynamodb_call_deadline_s": 0.5,
            "cache_fresh_ttl_s": 0.2,
        }
    )
    client = await aiohttp_client(create_app(flaky))
    fresh = await client.get(page_path(category["slug"], [("remote", "true")]))
    assert fresh.headers["X-Cache"] == "miss"
    await asyncio.sleep(0.4)  # past the fresh TTL: only a failing loader may use this copy
    await dynamodb_proxy.set_mode(Mode.REFUSE)
    stale = await client.get(page_path(category["slug"], [("remote", "true")]))
    assert (stale.status, stale.headers["X-Cache"]) == (200, "stale")
    assert int(stale.headers["Age"]) >= 0
    assert await stale.read() == await fresh.read()
    # A filter never asked before is computed from the same stale copy.
    query = [("skills", "sql")]
    unseen = await client.get(page_path(category["slug"], query))
    assert (unseen.status, unseen.headers["X-Cache"]) == (200, "stale")
    expected = [x["id"] for x in everything if matches(x, query)]
    assert [x["id"] for x in (await unseen.json())["items"]] == expected
    await dynamodb_proxy.set_mode(Mode.FORWARD)
    recovered = await client.get(page_path(category["slug"], query))
    assert (recovered.status, recovered.headers["X-Cache"]) == (200, "miss")


async def test_a_cold_stampede_of_distinct_filters_costs_one_query(
    aiohttp_client: AiohttpClient, settings: Settings, admin_token: str
) -> None:
    client = await aiohttp_client(create_app(settings))
    category, _ = await seed(client, admin_token)
    registry = client.app[METRICS].registry

    def queries() -> float:
        return ok_calls(registry, "Query")

    before = queries()
    paths = [
        page_path(category["slug"], [("location", "e" * (1 + i % 5)), ("limit", str(1 + i % 100))])
        for i in range(200)
    ]
    responses: list[Any] = await asyncio.gather(*(client.get(p) for p in paths))
    assert [r.status for r in responses] == [200] * 200
    assert "miss" in {r.headers["X-Cache"] for r in responses}  # it was cold
    assert queries() - before == 1  # SPECS fit in one 250-listing chunk
