"""`hustlehub serve --workers 2`, the real thing: one socket, two forked workers, one scrape.

Whichever worker answers /metrics, it must show the sum over every worker that ever ran:
counters and histograms of a killed worker stay (rate() must not see a reset), its live
gauges go (its requests in flight died with it).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections import Counter
from pathlib import Path

import aiohttp
import pytest

from tests.metrics.exposition import Scrape, per_worker
from tests.support.service_process import ServiceProcess, service_process, settings_env
from tests.support.tokens import CLIENT_ID, POOL_ID, TokenMint

# The test body starts the service as a child process (caching in the machine's Redis),
# where no fixture can mark it.
pytestmark = [pytest.mark.subprocess, pytest.mark.redis]

READS = 400
UNKNOWN = 100
CONCURRENCY = 16
HANGING = 6
CATEGORIES = {"route": "/v1/categories", "method": "GET"}

REQUESTS = "hustlehub_http_requests_total"
DURATION_COUNT = "hustlehub_http_request_duration_seconds_count"
DURATION_BUCKET = "hustlehub_http_request_duration_seconds_bucket"
IN_FLIGHT = "hustlehub_http_requests_in_flight"


def workers_of(parent: int) -> set[int]:
    text = Path(f"/proc/{parent}/task/{parent}/children").read_text(encoding="ascii")
    return {int(pid) for pid in text.split()}


async def wait_for_workers(
    parent: int, count: int, *, without: int | None = None, within_s: float = 30
) -> set[int]:
    deadline = time.monotonic() + within_s
    while True:
        workers = workers_of(parent)
        if len(workers) == count and without not in workers:
            return workers
        if time.monotonic() > deadline:
            raise TimeoutError(f"workers of {parent}: {workers}; wanted {count} without {without}")
        await asyncio.sleep(0.1)


async def send(base_url: str, paths: list[str]) -> Counter[tuple[str, int]]:
    """GET every path, each on a fresh connection (so the kernel picks a worker each time);
    how many answered each (first path segment after /v1, status)."""
    outcomes: Counter[tuple[str, int]] = Counter()
    gate = asyncio.Semaphore(CONCURRENCY)
    connector = aiohttp.TCPConnector(force_close=True, limit=CONCURRENCY)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one(path: str) -> None:
            async with gate, session.get(f"{base_url}{path}") as response:
                await response.read()
                outcomes[(path.split("/")[2], response.status)] += 1

        await asyncio.gather(*(one(path) for path in paths))
    return outcomes


async def scrape(base_url: str) -> Scrape:
    connector = aiohttp.TCPConnector(force_close=True)
    async with (
        aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as s,
        s.get(f"{base_url}/metrics") as response,
    ):
        assert response.status == 200
        return Scrape(await response.text())


async def hang(port: int, token: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A PUT /v1/me whose body never arrives: its handler waits in request.read()."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        (
            "PUT /v1/me HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\nContent-Length: 64\r\n\r\n{"
        ).encode()
    )
    await writer.drain()
    return reader, writer


async def wait_in_flight(directory: Path, total: int, *, within_s: float = 30) -> dict[int, float]:
    """Per-worker in-flight counts, once their sum is `total` (read from the files: a scrape
    would be in flight itself)."""
    deadline = time.monotonic() + within_s
    while True:
        found = per_worker(directory, "gauge_livesum", IN_FLIGHT)
        if sum(found.values()) == total:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"in flight per worker: {found}; wanted a total of {total}")
        await asyncio.sleep(0.1)


class Traffic:
    """What this test sent, so the scrape can be held to exact numbers."""

    def __init__(self) -> None:
        self.reads = 0
        self.unknown = 0
        self.scrapes = 0

    async def read(self, base_url: str, count: int) -> None:
        outcomes = await send(base_url, ["/v1/categories"] * count)
        assert outcomes == {("categories", 200): count}
        self.reads += count

    async def scrape(self, base_url: str, directory: Path) -> Scrape:
        await self.settled(directory)
        found = await scrape(base_url)
        self.scrapes += 1
        return found

    async def settled(self, directory: Path, *, within_s: float = 10) -> None:
        """Wait until every worker's files hold what was sent. A worker hands its counts to
        its files once a second (metrics.tally), so a scrape answered by one worker may show
        the other's last second late; settled, every scrape must be exact."""
        deadline = time.monotonic() + within_s
        while True:
            reads = sum(per_worker(directory, "counter", REQUESTS, **CATEGORIES).values())
            scrapes = sum(per_worker(directory, "counter", REQUESTS, route="/metrics").values())
            # The unknown paths too: the last of them may finish after a worker's flush that
            # already held every read.
            unknown = sum(per_worker(directory, "counter", REQUESTS, route="unmatched").values())
            if (reads, scrapes, unknown) == (self.reads, self.scrapes, self.unknown):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"files hold {reads} reads, {scrapes} scrapes and {unknown} unknown paths"
                )
            await asyncio.sleep(0.1)

    def assert_counted(self, found: Scrape) -> None:
        assert found.total(REQUESTS, **CATEGORIES, status="200") == self.reads
        assert found.total(DURATION_COUNT, **CATEGORIES, status_class="2xx") == self.reads
        assert found.total(DURATION_BUCKET, **CATEGORIES, le="+Inf") == self.reads
        assert found.total(REQUESTS, route="unmatched", method="GET", status="404") == self.unknown
        # Counted after the handler returns: a scrape shows the scrapes before it.
        assert found.total(REQUESTS, route="/metrics") == self.scrapes - 1


async def serve_until_both_workers_read(
    service: ServiceProcess, directory: Path, traffic: Traffic, workers: set[int]
) -> dict[int, float]:
    # Which worker accepts a connection is the kernel's choice, and a worker just forked may
    # still be starting: more rounds, never fewer requests than planned.
    deadline = time.monotonic() + 60
    for _ in range(60):
        served = per_worker(directory, "counter", REQUESTS, **CATEGORIES)
        if workers <= {pid for pid, count in served.items() if count > 0}:
            await traffic.settled(directory)
            return per_worker(directory, "counter", REQUESTS, **CATEGORIES)
        if time.monotonic() > deadline:
            break
        await traffic.read(service.base_url, 50)
        await asyncio.sleep(0.2)
    raise AssertionError(f"not every worker of {workers} served a read: {served}")


@pytest.mark.timeout(240)
async def test_two_workers_one_sum_that_survives_a_killed_worker(
    moto_endpoint: str, api_table: str, mint: TokenMint, tmp_path: Path
) -> None:
    directory = tmp_path / "prom"
    env = {
        **settings_env(
            endpoint=moto_endpoint, table=api_table, jwks_url=mint.jwks_url, pool_id=POOL_ID,
            client_id=CLIENT_ID, prefix=f"hh-workers-{uuid.uuid4().hex[:8]}",
        ),
        "HUSTLEHUB_METRICS_MULTIPROC_DIR": str(directory),
        # The hanging requests below must outlive the kill; the test closes them itself.
        "HUSTLEHUB_REQUEST_TIMEOUT_S": "120",
    }  # fmt: skip
    traffic = Traffic()
    async with service_process(env, args=("--workers", "2", "--drain", "0.2")) as service:
        parent = service.proc.pid
        port = int(service.base_url.rsplit(":", 1)[1])
        workers = await wait_for_workers(parent, 2)

        paths = ["/v1/categories"] * READS + [f"/v1/no-such-thing/{i}" for i in range(UNKNOWN)]
        outcomes = await send(service.base_url, paths)
        assert outcomes == {("categories", 200): READS, ("no-such-thing", 404): UNKNOWN}
        traffic.reads, traffic.unknown = READS, UNKNOWN
        served = await serve_until_both_workers_read(service, directory, traffic, workers)
        assert set(served) == workers
        assert sum(served.values()) == traffic.reads

        # Scrape from fresh connections until both workers have answered one: each answer
        # must be the same sum, whichever process rendered it.
        for _ in range(40):
            traffic.assert_counted(await traffic.scrape(service.base_url, directory))
            answered = per_worker(directory, "counter", REQUESTS, route="/metrics")
            if set(answered) == workers:
                break
        assert set(answered) == workers, f"/metrics answered only by {answered}"

        # Requests in flight, then one worker holding some of them dies with kill -9.
        token = mint.token(f"user-{uuid.uuid4()}")
        hanging = [await hang(port, token) for _ in range(HANGING)]
        try:
            by_worker = await wait_in_flight(directory, HANGING)
            found = await traffic.scrape(service.base_url, directory)
            assert found.total(IN_FLIGHT) == HANGING + 1  # + the scrape itself
            victim = max(by_worker, key=lambda pid: by_worker[pid])
            survivors_hanging = HANGING - by_worker[victim]
            assert victim in workers

            # Its counts so far are in its files (a kill loses at most the last second).
            await traffic.settled(directory)
            os.kill(victim, signal.SIGKILL)
            replaced = await wait_for_workers(parent, 2, without=victim)
            assert len(replaced - workers) == 1

            found = await traffic.scrape(service.base_url, directory)
            assert found.total(IN_FLIGHT) == survivors_hanging + 1
            traffic.assert_counted(found)  # the dead worker's counts are still in the sum
            assert per_worker(directory, "counter", REQUESTS, **CATEGORIES)[victim] > 0
        finally:
            for _, writer in hanging:
                writer.close()
        await wait_in_flight(directory, 0)

        # The replacement serves, and its counts join the sum.
        served = await serve_until_both_workers_read(service, directory, traffic, replaced)
        assert sum(served.values()) == traffic.reads
        found = await traffic.scrape(service.base_url, directory)
        traffic.assert_counted(found)
        assert found.total(IN_FLIGHT) == 1
        # The surviving worker's hanging requests lost their client: 499, not a 5xx that
        # would burn the error budget. The killed worker's died unanswered and uncounted.
        me = {"route": "/v1/me", "method": "PUT"}
        assert found.total(REQUESTS, **me, status="499") == survivors_hanging
        assert found.total(REQUESTS, **me) == survivors_hanging
        assert found.total(DURATION_COUNT, status_class="5xx") == 0

        code = await service.stop(signal.SIGTERM, within_s=30)
    assert code == 0
    # SIGTERM reached the workers: none is left behind holding the port.
    assert not [pid for pid in replaced if alive(pid)]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
