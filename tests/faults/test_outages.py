"""Redis and DynamoDB failing under the real app: reads keep their promises, writes lose nothing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from service.app import create_app
from service.config import Settings
from service.runtime.appkeys import CACHE
from tests.api.factories import create_category, create_listing
from tests.metrics.samples import ok_calls
from tests.support.app import AiohttpClient, bearer
from tests.support.faultproxy import FaultProxy, Mode


@pytest.fixture
async def redis_proxy() -> AsyncIterator[FaultProxy]:
    async with FaultProxy("127.0.0.1", 6379) as proxy:
        yield proxy


@pytest.fixture
async def dynamodb_proxy(moto_endpoint: str) -> AsyncIterator[FaultProxy]:
    upstream = urlsplit(moto_endpoint)
    async with FaultProxy(upstream.hostname or "127.0.0.1", upstream.port or 80) as proxy:
        yield proxy


@pytest.mark.parametrize("mode", [Mode.BLACKHOLE, Mode.REFUSE])
async def test_reads_and_writes_go_on_while_redis_fails(
    aiohttp_client: AiohttpClient,
    settings: Settings,
    admin_token: str,
    redis_proxy: FaultProxy,
    mode: Mode,
) -> None:
    via_proxy = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{redis_proxy.port}/0"})
    client = await aiohttp_client(create_app(via_proxy))
    category = await create_category(client, admin_token)
    await redis_proxy.set_mode(mode)
    started = time.monotonic()
    statuses = []
    for _ in range(50):
        response = await client.get(f"/v1/categories/{category['slug']}/listings")
        statuses.append(response.status)
    elapsed = time.monotonic() - started
    # 50 reads pay at most a few 50 ms timeouts before the breaker opens, not 50 of them.
    assert statuses == [200] * 50
    assert elapsed < 50 * via_proxy.redis_timeout_s / 2
    listing = await create_listing(client, admin_token, category["id"])
    page = await (await client.get(f"/v1/categories/{category['slug']}/listings")).json()
    assert [item["id"] for item in page["items"]] == [listing["id"]]


async def test_a_stale_copy_is_served_while_dynamodb_is_down(
    aiohttp_client: AiohttpClient,
    settings: Settings,
    admin_token: str,
    dynamodb_proxy: FaultProxy,
) -> None:
    writer = await aiohttp_client(create_app(settings))
    category = await create_category(writer, admin_token, name="Survives outages")
    flaky = settings.model_copy(
        update={
            "dynamodb_endpoint": f"http://127.0.0.1:{dynamodb_proxy.port}",
            "dynamodb_call_deadline_s": 0.5,
            "cache_fresh_ttl_s": 0.2,
        }
    )
    client = await aiohttp_client(create_app(flaky))
    path = f"/v1/categories/{category['slug']}"
    fresh = await client.get(path)
    assert fresh.headers["X-Cache"] == "miss"
    await asyncio.sleep(0.4)  # past the fresh TTL: only a failing loader may use this copy
    await dynamodb_proxy.set_mode(Mode.REFUSE)
    stale = await client.get(path)
    assert stale.status == 200
    assert stale.headers["X-Cache"] == "stale"
    assert int(stale.headers["Age"]) >= 0
    assert await stale.read() == await fresh.read()
    missing = await client.get("/v1/categories/never-read-before")
    assert missing.status == 503
    assert missing.content_type == "application/problem+json"
    assert missing.headers["Retry-After"] == "1"
    await dynamodb_proxy.set_mode(Mode.FORWARD)
    recovered = await client.get(path)
    assert (recovered.status, recovered.headers["X-Cache"]) == (200, "miss")


async def test_an_invalidated_copy_is_never_served_stale(
    aiohttp_client: AiohttpClient,
    settings: Settings,
    admin_token: str,
    dynamodb_proxy: FaultProxy,
) -> None:
    writer = await aiohttp_client(create_app(settings))
    flaky = settings.model_copy(
        update={
            "dynamodb_endpoint": f"http://127.0.0.1:{dynamodb_proxy.port}",
            "dynamodb_call_deadline_s": 0.5,
        }
    )
    reader = await aiohttp_client(create_app(flaky))  # shares Redis with the writer
    category = await create_category(writer, admin_token)
    path = f"/v1/categories/{category['id']}"
    assert (await reader.get(path)).status == 200
    patched = await writer.patch(
        f"/v1/admin/categories/{category['id']}",
        json={"name": "Renamed"},
        headers={**bearer(admin_token), "If-Match": '"v1"'},
    )
    assert patched.status == 200
    await asyncio.sleep(1.0)  # well past the pub/sub hop that drops the reader's copy
    await dynamodb_proxy.set_mode(Mode.REFUSE)
    response = await reader.get(path)
    assert response.status == 503
    assert response.headers["Retry-After"] == "1"


async def test_a_cold_stampede_costs_one_query(
    aiohttp_client: AiohttpClient, settings: Settings, admin_token: str
) -> None:
    from service.runtime.appkeys import METRICS

    client = await aiohttp_client(create_app(settings))
    category = await create_category(client, admin_token)
    for _ in range(3):
        await create_listing(client, admin_token, category["id"])
    registry = client.app[METRICS].registry

    def queries() -> float:
        return ok_calls(registry, "Query")

    before = queries()
    path = f"/v1/categories/{category['id']}/listings?limit=7"
    responses: list[Any] = await asyncio.gather(*(client.get(path) for _ in range(500)))
    assert [r.status for r in responses] == [200] * 500
    assert queries() - before == 1
    bodies = {await r.read() for r in responses}
    assert len(bodies) == 1


async def test_a_cached_404_never_hides_a_later_create(
    aiohttp_client: AiohttpClient, settings: Settings, admin_token: str
) -> None:
    client = await aiohttp_client(create_app(settings))
    other = await aiohttp_client(create_app(settings))  # a second instance sharing Redis
    slug = f"soon-{time.time_ns()}"
    for instance in (client, other):
        first = await instance.get(f"/v1/categories/{slug}")
        again = await instance.get(f"/v1/categories/{slug}")
        assert (first.status, again.status) == (404, 404)
        # Cached: from memory, or from Redis when a stalled loop let the 50 ms lease lapse.
        assert again.headers["X-Cache"] in {"memory", "redis"}
    await create_category(client, admin_token, slug=slug)
    assert (await client.get(f"/v1/categories/{slug}")).status == 200
    for _ in range(50):  # the other instance hears of it over pub/sub
        if (await other.get(f"/v1/categories/{slug}")).status == 200:
            break
        await asyncio.sleep(0.01)
    assert (await other.get(f"/v1/categories/{slug}")).status == 200


async def test_readiness_holds_through_a_redis_outage_and_its_end(
    aiohttp_client: AiohttpClient, settings: Settings, redis_proxy: FaultProxy
) -> None:
    # Readiness is for start-up and drain: Redis killed and brought back must not turn it
    # 503, not even for the moment after it returns (issue 19: 503/200 for 1.5-2 s).
    via_proxy = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{redis_proxy.port}/0"})
    client = await aiohttp_client(create_app(via_proxy))
    statuses: list[int] = []
    seen: list[bool] = []
    reads: list[int] = []

    async def poll(seconds: float, *, until_redis: bool | None = None) -> None:
        deadline = time.monotonic() + seconds
        for _ in range(int(seconds / 0.05) + 1):
            if time.monotonic() >= deadline:
                return
            assert (await client.get("/v1/categories")).status == 200
            # A read no copy in memory answers: it goes to Redis, which probes the breaker.
            reads.append(len(reads))
            assert (await client.get(f"/v1/listings/missing-{len(reads)}")).status == 404
            ready = await client.get("/readyz")
            statuses.append(ready.status)
            if ready.status == 200:
                seen.append((await ready.json())["checks"]["redis"])
                if until_redis is not None and seen[-1] is until_redis:
                    return
            await asyncio.sleep(0.05)

    await poll(10.0, until_redis=True)
    assert seen[-1] is True, "Redis never came up through the proxy"
    await redis_proxy.set_mode(Mode.REFUSE)  # Redis gone: connections cut, connects refused
    await poll(10.0, until_redis=False)
    assert seen[-1] is False, "readiness never saw the outage"
    await redis_proxy.set_mode(Mode.FORWARD)
    await poll(10.0, until_redis=True)
    assert seen[-1] is True, f"readiness never saw Redis come back: {client.app[CACHE].health()}"
    await poll(2.5)  # the span where readiness used to flap
    assert set(statuses) == {200}, statuses
