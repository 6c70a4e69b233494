"""The write barrier in the real `serve --workers 2`: a write taken by one worker is never
followed by a read on the other that returns older data, not even when that worker was stopped
(SIGSTOP) with the old entry in its memory while the write went through.

Every request goes on a fresh connection, so the kernel picks a worker each time; which worker
served what is read from each worker's own metric files.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from tests.api.factories import create_category, create_listing
from tests.consistency.test_no_stale_reads import Read, Write, _violations
from tests.metrics.exposition import Scrape, per_worker
from tests.metrics.test_workers import wait_for_workers
from tests.support.app import bearer
from tests.support.service_process import ServiceProcess, service_process, settings_env
from tests.support.tokens import CLIENT_ID, POOL_ID, TokenMint

# The test body starts the service as a child process (caching in the machine's Redis),
# where no fixture can mark it.
pytestmark = [pytest.mark.subprocess, pytest.mark.redis]

RUN_S = 15.0
READERS = 6
LEASE_S = 0.05
REDIS_TIMEOUT_S = 0.25  # a loaded 2-core machine: the test is about ordering, not speed
MEMORY_HITS = "hustlehub_cache_hits_total"
REQUESTS = "hustlehub_http_requests_total"
BARRIER = "hustlehub_cache_barrier_wait_seconds"
OUTCOMES = "hustlehub_cache_barrier_outcomes_total"


@contextlib.asynccontextmanager
async def two_workers(
    moto_endpoint: str, api_table: str, mint: TokenMint, directory: Path
) -> AsyncIterator[tuple[ServiceProcess, set[int]]]:
    env = {
        **settings_env(
            endpoint=moto_endpoint, table=api_table, jwks_url=mint.jwks_url, pool_id=POOL_ID,
            client_id=CLIENT_ID, prefix=f"hh-barrier-{uuid.uuid4().hex[:8]}",
        ),
        "HUSTLEHUB_METRICS_MULTIPROC_DIR": str(directory),
        "HUSTLEHUB_CACHE_LEASE_S": str(LEASE_S),
        "HUSTLEHUB_REDIS_TIMEOUT_S": str(REDIS_TIMEOUT_S),
    }  # fmt: skip
    async with service_process(env, args=("--workers", "2", "--drain", "0.2")) as service:
        workers = await wait_for_workers(service.proc.pid, 2)
        yield service, workers


def session() -> aiohttp.ClientSession:
    # A fresh connection per request: the kernel chooses the worker each time.
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(force_close=True),
        timeout=aiohttp.ClientTimeout(total=30),
    )


async def read_version(http: aiohttp.ClientSession, url: str) -> tuple[int, str, str]:
    async with http.get(url) as response:
        assert response.status == 200, await response.text()
        body: dict[str, Any] = await response.json()
        return body["version"], response.headers["X-Cache"], response.headers["ETag"]


async def patch(
    http: aiohttp.ClientSession, url: str, token: str, etag: str, n: int
) -> tuple[int, str]:
    headers = {**bearer(token), "If-Match": etag}
    async with http.patch(url, json={"description": f"write {n}"}, headers=headers) as response:
        assert response.status == 200, await response.text()
        return (await response.json())["version"], response.headers["ETag"]


async def settled_total(directory: Path, kind: str, name: str, **labels: str) -> dict[int, float]:
    """Per-worker values once two reads a second apart agree (tallies flush every second)."""
    previous = per_worker(directory, kind, name, **labels)
    for _ in range(10):
        await asyncio.sleep(1.1)
        current = per_worker(directory, kind, name, **labels)
        if current == previous:
            return current
        previous = current
    return previous


def quantile(buckets: list[tuple[float, float]], q: float) -> float:
    """The q-quantile of a cumulative histogram, interpolated within its bucket as Prometheus'
    histogram_quantile does."""
    rank = q * buckets[-1][1]
    lower_edge, lower_count = 0.0, 0.0
    for edge, count in buckets:
        if count >= rank:
            if edge == float("inf"):
                return lower_edge
            return lower_edge + (edge - lower_edge) * (rank - lower_count) / (count - lower_count)
        lower_edge, lower_count = edge, count
    return float("inf")


async def barrier_buckets(base_url: str) -> list[tuple[float, float]]:
    async with session() as http, http.get(f"{base_url}/metrics") as response:
        found = Scrape(await response.text())
    edges = sorted(
        {float(le) for le in found.label_values(f"{BARRIER}_bucket", "le") if le != "+Inf"}
    )
    cumulative = [(edge, found.total(f"{BARRIER}_bucket", le=str(edge))) for edge in edges]
    return [*cumulative, (float("inf"), found.total(f"{BARRIER}_bucket", le="+Inf"))]


@pytest.mark.timeout(240)
async def test_no_read_on_any_worker_returns_data_older_than_a_finished_write(
    moto_endpoint: str,
    api_table: str,
    mint: TokenMint,
    client: TestClient[Any, Any],
    admin_token: str,
    tmp_path: Path,
) -> None:
    category = await create_category(client, admin_token)
    listing = await create_listing(client, admin_token, category["id"])
    directory = tmp_path / "prom"
    async with two_workers(moto_endpoint, api_table, mint, directory) as (service, workers):
        read_url = f"{service.base_url}/v1/listings/{listing['slug']}"
        write_url = f"{service.base_url}/v1/admin/listings/{listing['id']}"
        writes: list[Write] = []
        reads: list[Read] = []
        latencies: list[float] = []
        stop = time.monotonic() + RUN_S

        async def writer(http: aiohttp.ClientSession) -> None:
            rng = random.Random(11)
            _, _, etag = await read_version(http, read_url)
            for n in range(10_000):  # bounded by count and by time
                if time.monotonic() >= stop:
                    return
                started = time.monotonic()
                version, etag = await patch(http, write_url, admin_token, etag, n)
                acked = time.monotonic()
                latencies.append(acked - started)
                writes.append(Write(0, version, started, acked))
                await asyncio.sleep(rng.uniform(0, 0.05))

        async def reader(http: aiohttp.ClientSession) -> None:
            for _ in range(100_000):
                if time.monotonic() >= stop:
                    return
                started = time.monotonic()
                version, source, _ = await read_version(http, read_url)
                reads.append(Read(0, version, started, time.monotonic(), source))

        async with session() as http:
            await asyncio.gather(writer(http), *(reader(http) for _ in range(READERS)))

        assert len(writes) >= 30, f"{len(writes)} writes: too few to mean anything"
        assert len(reads) >= 500, f"{len(reads)} reads: too few to mean anything"
        assert _violations(writes, reads) == []
        # Both workers served reads from their own memory: each had a copy that could go stale.
        memory_hits = await settled_total(directory, "counter", MEMORY_HITS, layer="memory")
        assert {pid for pid, hits in memory_hits.items() if hits > 0} >= workers, memory_hits
        outcomes = {
            outcome: sum(per_worker(directory, "counter", OUTCOMES, outcome=outcome).values())
            for outcome in ("acked", "lease_expired", "redis_down")
        }
        assert sum(outcomes.values()) >= len(writes)
        assert outcomes["acked"] > outcomes["lease_expired"] + outcomes["redis_down"]
        buckets = await barrier_buckets(service.base_url)
        latencies.sort()
        print(
            f"\n{len(writes)} writes, {len(reads)} reads, 0 stale; barriers {outcomes}; "
            f"barrier wait p50 ~{quantile(buckets, 0.5) * 1000:.1f} ms, "
            f"p99 ~{quantile(buckets, 0.99) * 1000:.1f} ms; write latency (client) "
            f"p50 {latencies[len(latencies) // 2] * 1000:.1f} ms, "
            f"p99 {latencies[int(len(latencies) * 0.99)] * 1000:.1f} ms"
        )


@pytest.mark.timeout(240)
async def test_a_stopped_worker_serves_no_pre_write_copy_when_it_resumes(
    moto_endpoint: str,
    api_table: str,
    mint: TokenMint,
    client: TestClient[Any, Any],
    admin_token: str,
    tmp_path: Path,
) -> None:
    category = await create_category(client, admin_token)
    listing = await create_listing(client, admin_token, category["id"])
    directory = tmp_path / "prom"
    route = {"route": "/v1/listings/{ref}"}
    async with two_workers(moto_endpoint, api_table, mint, directory) as (service, workers):
        read_url = f"{service.base_url}/v1/listings/{listing['slug']}"
        write_url = f"{service.base_url}/v1/admin/listings/{listing['id']}"
        # One kept-alive connection: every read on it goes to the same worker, the one that
        # will be stopped with version 1 in its memory.
        kept = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=1), timeout=aiohttp.ClientTimeout(total=30)
        )
        async with kept, session() as fresh:
            sent = 0
            for _ in range(20):
                version, source, etag = await read_version(kept, read_url)
                sent += 1
                assert version == 1
                if source == "memory":
                    break
            assert source == "memory"
            served = await settled_total(directory, "counter", REQUESTS, **route)
            assert sum(served.values()) == sent
            (stopped,) = (pid for pid, n in served.items() if n == sent)
            assert stopped in workers

            os.kill(stopped, signal.SIGSTOP)
            try:
                started = time.monotonic()
                version, _ = await patch(fresh, write_url, admin_token, etag, 0)  # the other
                wrote_in = time.monotonic() - started
                # A read that begins after the write returned, on the stopped worker: its
                # request is waiting in the socket when the worker resumes, next to the
                # invalidation in its pub/sub socket.
                late = asyncio.create_task(read_version(kept, read_url))
                await asyncio.sleep(0.2)
            finally:
                os.kill(stopped, signal.SIGCONT)
            assert version == 2
            assert (await late)[0] == 2

            # And every read after, on either worker, sees the write.
            found = await asyncio.gather(*(read_version(fresh, read_url) for _ in range(40)))
            assert {v for v, _, _ in found} == {2}, found
            served_after = await settled_total(directory, "counter", REQUESTS, **route)
            assert served_after[stopped] >= sent + 1  # the late read was the stopped worker's

        # The live worker answered without the stopped one's ack, by waiting out its lease.
        expired = per_worker(directory, "counter", OUTCOMES, outcome="lease_expired")
        assert sum(expired.values()) == 1
        assert expired.get(stopped, 0) == 0
        # One write, one barrier: at least the lease, at most the Redis timeout + the lease
        # (plus slack for a loaded machine's event loop).
        count = sum(per_worker(directory, "histogram", f"{BARRIER}_count").values())
        waited = sum(per_worker(directory, "histogram", f"{BARRIER}_sum").values())
        assert count == 1
        assert LEASE_S <= waited < REDIS_TIMEOUT_S + LEASE_S + 0.1
        print(
            f"\nwith a worker stopped: barrier {waited * 1000:.1f} ms, "
            f"write {wrote_in * 1000:.1f} ms"
        )
