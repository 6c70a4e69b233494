"""Degrading within the targets: through a Redis outage a process keeps what it read for at
most one lease, so the table takes a fraction of the reads and no read that starts after a
write's response sees older data; through a table outage a stale copy answers after a short
wait, not after the call deadline, while one load per key keeps trying."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp.test_utils import TestClient
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


def _counted(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return sum(
        sample.value
        for family in registry.collect()
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


@dataclass
class Outage:
    reads: list[tuple[float, float, int]]  # (started, took, version seen)
    writes: list[tuple[float, int]]  # (answered, version written)
    table_reads: list[float]  # the reader's table reads before each window, and at the end
    reads_by_window: list[int]

    def stale(self) -> list[tuple[float, int, int]]:
        """Reads that began after a rename had answered and saw an older name."""
        return [
            (started, seen, n)
            for started, _, seen in self.reads
            for answered, n in self.writes
            if answered < started and seen < n
        ]

    def per_request(self, window: int) -> float:
        spent = self.table_reads[window + 1] - self.table_reads[window]
        return spent / max(1, self.reads_by_window[window])

    def p99_ms(self) -> float:
        took = sorted(seconds for _, seconds, _ in self.reads)
        return took[int(len(took) * 0.99)] * 1000

    def check_past_the_cap(self) -> None:
        """Two windows of 4 s, the second past the registration cap: fresh reads there, and
        under half a table read per request (each would be one without recent reads)."""
        assert len(self.writes) >= 6
        assert self.reads_by_window[1] > 100
        assert self.stale() == []
        late = self.per_request(1)
        print(
            f"reads {self.reads_by_window} table reads/request {self.per_request(0):.3f},"
            f" past the cap {late:.3f}; P99 {self.p99_ms():.1f} ms; writes {len(self.writes)}"
        )
        assert late < 0.5, self


async def _through_an_outage(
    writer: TestClient[Any, Any],
    reader: TestClient[Any, Any],
    admin_token: str,
    redis_proxy: FaultProxy,
    *,
    windows: tuple[float, ...],
    mode: Mode = Mode.BLACKHOLE,
) -> Outage:
    """Put `redis_proxy` (the reader's way to Redis, and the writer's too if it goes through
    it) in `mode` for the sum of `windows` seconds while the reader reads one category one
    read at a time (so that without the outage mode each read would be its own table read)
    and the writer renames it every 200 ms."""
    category = await create_category(writer, admin_token, name="v0")
    path = f"/v1/categories/{category['id']}"
    for _ in range(50):  # until the reader holds a lease and the entry is in memory
        if (await reader.get(path)).headers["X-Cache"] == "memory":
            break
        await asyncio.sleep(0.02)
    registry = reader.app[METRICS].registry
    await redis_proxy.set_mode(mode)
    outage = Outage([], [], [_table_reads(registry)], [])
    stop = time.monotonic() + sum(windows)

    async def read_loop() -> None:
        window_ends = iter(itertools.accumulate(windows, initial=time.monotonic()))
        next(window_ends)
        window_end, count = next(window_ends), 0
        for _ in range(100_000):  # bounded by count and by time
            now = time.monotonic()
            if now >= window_end:
                outage.table_reads.append(_table_reads(registry))
                outage.reads_by_window.append(count)
                if now >= stop:
                    return
                window_end, count = next(window_ends, stop), 0
            started = time.monotonic()
            response = await reader.get(path)
            assert response.status == 200, await response.text()
            name = (await response.json())["name"]
            outage.reads.append((started, time.monotonic() - started, int(name[1:])))
            count += 1

    async def write_loop() -> None:
        etag = '"v1"'
        for n in range(1, 500):  # bounded by count and by time
            if time.monotonic() >= stop - 0.2:
                return
            response = await writer.patch(
                f"/v1/admin/categories/{category['id']}",
                json={"name": f"v{n}"},
                headers={**bearer(admin_token), "If-Match": etag},
            )
            assert response.status == 200, await response.text()
            outage.writes.append((time.monotonic(), n))
            etag = response.headers["ETag"]
            await asyncio.sleep(0.2)

    try:
        await asyncio.gather(read_loop(), write_loop())
    finally:
        await redis_proxy.set_mode(Mode.FORWARD)
    return outage


@pytest.mark.timeout(60)
async def test_through_a_redis_outage_reads_mostly_skip_the_table_and_none_is_stale(
    aiohttp_client: AiohttpClient,
    settings: Settings,
    admin_token: str,
    redis_proxy: FaultProxy,
) -> None:
    # The registration cap (half the registry TTL past the last registration) bounds how long
    # a process cut off from Redis may keep anything on the registry's word alone: long
    # enough here for the whole outage, with notices off.
    writer = await aiohttp_client(create_app(settings))
    reader_settings = settings.model_copy(
        update={
            "redis_url": f"redis://127.0.0.1:{redis_proxy.port}/0",
            "cache_registry_ttl_s": 10.0,
            "cache_cut_off_notice_s": 0.0,
        }
    )
    reader = await aiohttp_client(create_app(reader_settings))
    outage = await _through_an_outage(writer, reader, admin_token, redis_proxy, windows=(2.5,))
    assert len(outage.writes) >= 3  # moto's transactions are slow on a loaded machine
    assert len(outage.reads) > 100
    assert outage.stale() == []
    per_request = outage.per_request(0)
    p99 = outage.p99_ms()
    print(f"reads {len(outage.reads)} table reads/request {per_request:.3f} P99 {p99:.1f} ms")
    # Without the outage mode every one of these reads would be a table read.
    assert per_request < 0.5, outage


@pytest.mark.timeout(90)
async def test_past_the_registration_cap_cut_off_notices_keep_reads_off_the_table_and_fresh(
    aiohttp_client: AiohttpClient,
    settings: Settings,
    admin_token: str,
    redis_proxy: FaultProxy,
) -> None:
    # The default registry TTL (5 s): its cap passes 1.5-2.5 s into the outage. From 4 s on,
    # only the notices let the reader keep what it read, and the writer (which still reaches
    # Redis, so its invalidations are acked by every registered instance at once) waits a
    # lease for the reader because it finds the reader's notice.
    assert settings.cache_registry_ttl_s == 5.0
    assert settings.cache_cut_off_notice_s > 0
    writer = await aiohttp_client(create_app(settings))
    reader_settings = settings.model_copy(
        update={"redis_url": f"redis://127.0.0.1:{redis_proxy.port}/0"}
    )
    reader = await aiohttp_client(create_app(reader_settings))
    outage = await _through_an_outage(writer, reader, admin_token, redis_proxy, windows=(4.0, 4.0))
    outage.check_past_the_cap()
    reader_metrics, writer_metrics = reader.app[METRICS].registry, writer.app[METRICS].registry
    notices = "hustlehub_cache_cut_off_notices_total"
    assert _counted(reader_metrics, notices, event="announced") >= 2  # renewed
    assert _counted(writer_metrics, notices, event="waited") >= 1


@pytest.mark.timeout(90)
async def test_with_redis_gone_for_every_process_reads_skip_the_table_and_none_is_stale(
    aiohttp_client: AiohttpClient,
    settings: Settings,
    admin_token: str,
    redis_proxy: FaultProxy,
) -> None:
    # Redis killed: every connection cut and refused, the writer's too. Each write then waits
    # one lease (it cannot ask anyone), and the reader keeps what it read for one lease past
    # the registration cap on its notices' word.
    through_proxy = settings.model_copy(
        update={"redis_url": f"redis://127.0.0.1:{redis_proxy.port}/0"}
    )
    writer = await aiohttp_client(create_app(through_proxy))
    reader = await aiohttp_client(create_app(through_proxy))
    outage = await _through_an_outage(
        writer, reader, admin_token, redis_proxy, windows=(4.0, 4.0), mode=Mode.REFUSE
    )
    outage.check_past_the_cap()
    outcomes = writer.app[METRICS].registry
    assert _counted(outcomes, "hustlehub_cache_barrier_outcomes_total", outcome="redis_down") >= 6


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
