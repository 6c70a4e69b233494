"""Degrading within the targets: through a Redis outage a process keeps what it read for at
most one lease, so the table takes a fraction of the reads and no read that starts after a
write's response sees older data; through a table outage a stale copy answers after a short
wait, not after the call deadline, while one load per key keeps trying."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from prometheus_client import CollectorRegistry

from service.app import create_app
from service.config import Settings
from service.runtime.appkeys import CACHE, METRICS
from tests.api.factories import create_category
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


def _table_reads(registry: CollectorRegistry) -> float:
    return sum(
        sample.value
        for family in registry.collect()
        for sample in family.samples
        if sample.name == "hustlehub_dynamodb_requests_total"
        and sample.labels.get("operation") in {"GetItem", "Query", "BatchGetItem"}
    )


@pytest.mark.timeout(60)
async def test_through_a_redis_outage_reads_mostly_skip_the_table_and_none_is_stale(
    aiohttp_client: AiohttpClient,
    settings: Settings,
    admin_token: str,
    redis_proxy: FaultProxy,
) -> None:
    # The registration cap (half the registry TTL past the last registration) bounds how long
    # a process cut off from Redis may keep anything: long enough here for the whole outage.
    writer = await aiohttp_client(create_app(settings))
    reader_settings = settings.model_copy(
        update={
            "redis_url": f"redis://127.0.0.1:{redis_proxy.port}/0",
            "cache_registry_ttl_s": 10.0,
        }
    )
    reader = await aiohttp_client(create_app(reader_settings))
    category = await create_category(writer, admin_token, name="v0")
    path = f"/v1/categories/{category['id']}"
    for _ in range(50):  # until the reader holds a lease and the entry is in memory
        if (await reader.get(path)).headers["X-Cache"] == "memory":
            break
        await asyncio.sleep(0.02)
    registry = reader.app[METRICS].registry
    await redis_proxy.set_mode(Mode.BLACKHOLE)
    # Reads (one at a time, so without the outage mode each would be its own table read) and
    # an admin writer renaming the category every 200 ms, for 2.5 s.
    reads: list[tuple[float, float, int]] = []  # (started, took, version seen)
    writes: list[tuple[float, int]] = []  # (answered, version written)
    stop = time.monotonic() + 2.5
    before = _table_reads(registry)

    async def read_loop() -> None:
        for _ in range(20_000):  # bounded by count and by time
            if time.monotonic() >= stop:
                return
            started = time.monotonic()
            response = await reader.get(path)
            assert response.status == 200, await response.text()
            name = (await response.json())["name"]
            reads.append((started, time.monotonic() - started, int(name[1:])))

    async def write_loop() -> None:
        etag = '"v1"'
        for n in range(1, 100):  # bounded by count and by time
            if time.monotonic() >= stop - 0.2:
                return
            response = await writer.patch(
                f"/v1/admin/categories/{category['id']}",
                json={"name": f"v{n}"},
                headers={**bearer(admin_token), "If-Match": etag},
            )
            assert response.status == 200, await response.text()
            writes.append((time.monotonic(), n))
            etag = response.headers["ETag"]
            await asyncio.sleep(0.2)

    await asyncio.gather(read_loop(), write_loop())
    table_reads = _table_reads(registry) - before
    await redis_proxy.set_mode(Mode.FORWARD)
    assert len(writes) >= 3  # moto's transactions are slow on a loaded machine
    assert len(reads) > 100
    stale = [
        (started, seen, n)
        for started, _, seen in reads
        for answered, n in writes
        if answered < started and seen < n
    ]
    assert stale == []
    per_request = table_reads / len(reads)
    took = sorted(seconds for _, seconds, _ in reads)
    p99 = took[int(len(took) * 0.99)]
    print(f"reads {len(reads)} table reads/request {per_request:.3f} P99 {p99 * 1000:.1f} ms")
    # Without the outage mode every one of these reads would be a table read.
    assert per_request < 0.5, (table_reads, len(reads))


@pytest.mark.timeout(60)
async def test_a_stale_copy_answers_after_a_short_wait_while_one_load_keeps_trying(
    aiohttp_client: AiohttpClient,
    settings: Settings,
    admin_token: str,
    dynamodb_proxy: FaultProxy,
) -> None:
    writer = await aiohttp_client(create_app(settings))
    category = await create_category(writer, admin_token, name="Answers through outages")
    flaky = settings.model_copy(
        update={
            "dynamodb_endpoint": f"http://127.0.0.1:{dynamodb_proxy.port}",
            "dynamodb_call_deadline_s": 3.0,
            "cache_fresh_ttl_s": 0.2,
            "cache_stale_after_s": 0.1,
        }
    )
    client = await aiohttp_client(create_app(flaky))
    path = f"/v1/categories/{category['slug']}"
    fresh = await client.get(path)
    assert fresh.headers["X-Cache"] == "miss"
    await asyncio.sleep(0.4)  # past the fresh TTL
    await dynamodb_proxy.set_mode(Mode.BLACKHOLE)  # calls hang until their deadline
    took: list[float] = []
    for _ in range(8):
        started = time.monotonic()
        stale: Any = await client.get(path)
        took.append(time.monotonic() - started)
        assert (stale.status, stale.headers["X-Cache"]) == (200, "stale")
        assert await stale.read() == await fresh.read()
        assert client.app[CACHE].health().loads_in_flight == 1  # the one load, still trying
    assert max(took) < 1.0, took  # the short wait, not the 3 s call deadline
    assert min(took) >= 0.1, took
    await dynamodb_proxy.set_mode(Mode.FORWARD)
    for _ in range(100):  # the load in flight gives up at its deadline; the next one succeeds
        response = await client.get(path)
        if response.headers["X-Cache"] != "stale":
            break
        await asyncio.sleep(0.1)
    assert response.headers["X-Cache"] in {"miss", "memory"}
