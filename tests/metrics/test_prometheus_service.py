"""A real Prometheus scrapes the real service (`serve --workers 2`) and answers the SLO queries.

The service runs as in production: its own process, two workers, metrics summed across them
(multiprocess mode), DynamoDB (moto, behind a fault proxy) and Redis. Prometheus loads the
repository's recording rules; traffic mixes reads, 404s and admin writes, then DynamoDB is
cut off so that some requests fail with a 5xx.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest

from metrics.http import LATENCY_BUCKETS
from metrics.rules import (
    P99_READ,
    P99_WRITE,
    RULES_DIR,
    THROTTLE_RATIO,
    error_ratio_record,
    p99,
)
from service.app import create_app
from service.runtime.appkeys import STORES
from tests.support.app import AiohttpClient, NewTable, bearer, make_settings
from tests.support.faultproxy import FaultProxy, Mode
from tests.support.prometheus_tools import PrometheusServer, Tools, run_prometheus_async
from tests.support.service_process import service_process, settings_env
from tests.support.tokens import CLIENT_ID, POOL_ID, TokenMint

# The test body starts the service as a child process (caching in the machine's Redis),
# where no fixture can mark it.
pytestmark = [pytest.mark.subprocess, pytest.mark.redis]

# As the recorded one, over a window this test fills: the API's requests, not the scrapes.
P99 = p99(window="1m")
ERROR_RATIO = error_ratio_record("5m")
WAIT_S = 90.0  # per query: generous for a loaded 2-core machine, still bounded

Result = list[dict[str, Any]]


class Traffic:
    """Reads, 404s and admin writes (create, then delete, so the table stays small), paced."""

    def __init__(self, base_url: str, admin_token: str) -> None:
        self.base_url = base_url
        self.headers = bearer(admin_token)
        self.outcomes: Counter[tuple[str, int]] = Counter()
        self.completed = 0
        self.slowest_s = 0.0
        self.stop = asyncio.Event()

    async def run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=20)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for round_ in range(100_000):  # bounded by count; stopped by the test
                if self.stop.is_set():
                    return
                for _ in range(6):
                    await self._one(session, "read", "GET", "/v1/categories")
                await self._one(session, "missing", "GET", f"/v1/nothing/{round_}")
                await self._write(session, round_)
                await asyncio.sleep(0.05)

    async def _write(self, session: aiohttp.ClientSession, round_: int) -> None:
        body = {"slug": f"prom-{uuid.uuid4().hex[:12]}", "name": f"Scraped {round_}"}
        created = await self._one(session, "create", "POST", "/v1/admin/categories", body)
        if created is not None:
            await self._one(session, "delete", "DELETE", f"/v1/admin/categories/{created}")

    async def _one(
        self,
        session: aiohttp.ClientSession,
        kind: str,
        method: str,
        path: str,
        body: dict[str, str] | None = None,
    ) -> str | None:
        started = time.perf_counter()
        headers = self.headers if kind in {"create", "delete"} else {}
        async with session.request(
            method, f"{self.base_url}{path}", json=body, headers=headers
        ) as response:
            payload = await response.read()
        self.slowest_s = max(self.slowest_s, time.perf_counter() - started)
        self.outcomes[(kind, response.status)] += 1
        self.completed += 1
        if kind == "create" and response.status == 201:
            created: str = json.loads(payload)["id"]
            return created
        return None

    async def latency_ceiling(self) -> float:
        """The bucket edge above the slowest request seen, once every request the server had
        counted by now has been seen by this client too.

        Requests go one at a time, so only the one in flight can be counted but unseen:
        waiting for one more to finish settles it.
        """
        seen = self.completed
        for _ in range(600):  # 30 s at most
            if self.completed > seen:
                break
            await asyncio.sleep(0.05)
        assert self.completed > seen, "the traffic stalled"
        return min(edge for edge in (*LATENCY_BUCKETS, math.inf) if edge >= self.slowest_s)


async def wait_for(
    prometheus: PrometheusServer, promql: str, done: Callable[[Result], bool]
) -> Result:
    return await asyncio.to_thread(prometheus.wait_for, promql, done, timeout_s=WAIT_S)


def one_value(result: Result) -> float:
    assert len(result) == 1, result
    return float(result[0]["value"][1])


def has_number(result: Result) -> bool:
    return len(result) == 1 and math.isfinite(float(result[0]["value"][1]))


@pytest.mark.timeout(900)  # may have to apt-get install prometheus first
async def test_prometheus_answers_the_slo_queries_about_the_running_service(
    moto_endpoint: str,
    new_table: NewTable,
    mint: TokenMint,
    aiohttp_client: AiohttpClient,
    prometheus_tools: Tools,
    tmp_path: Path,
) -> None:
    table = await new_table("hh-prom")
    admin_sub = f"prom-admin-{uuid.uuid4()}"
    setup = await aiohttp_client(create_app(make_settings(moto_endpoint, table, mint)))
    await setup.app[STORES].users.grant_admin(admin_sub, actor="test-setup")

    moto = urlsplit(moto_endpoint)
    assert moto.hostname is not None
    assert moto.port is not None
    async with FaultProxy(moto.hostname, moto.port) as dynamodb:
        env = settings_env(
            endpoint=f"http://127.0.0.1:{dynamodb.port}", table=table, jwks_url=mint.jwks_url,
            pool_id=POOL_ID, client_id=CLIENT_ID, prefix=f"hh-prom-{uuid.uuid4().hex[:8]}",
        )  # fmt: skip
        # The outage below must end as the database's 503 within the request deadline, not
        # as the deadline's 504: keep DynamoDB's own bound well under it.
        env["HUSTLEHUB_DYNAMODB_CALL_DEADLINE_S"] = "3"
        args = ("--workers", "2", "--drain", "0")
        async with (
            service_process(env, args=args) as service,
            run_prometheus_async(
                prometheus_tools,
                tmp_path / "prometheus",
                target=service.base_url.removeprefix("http://"),
                rule_files=[RULES_DIR / "recording.yml"],
            ) as prometheus,
        ):
            up = await wait_for(prometheus, 'up{job="hustlehub"}', lambda r: bool(r))
            assert one_value(up) == 1, prometheus.log_tail()

            traffic = Traffic(service.base_url, mint.token(admin_sub))
            sender = asyncio.create_task(traffic.run())
            try:
                await healthy_phase(prometheus, traffic)
                await dynamodb.set_mode(Mode.REFUSE)
                await failing_phase(prometheus, traffic)
            finally:
                await dynamodb.set_mode(Mode.FORWARD)
                traffic.stop.set()
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait_for(sender, 60)


async def healthy_phase(prometheus: PrometheusServer, traffic: Traffic) -> None:
    # Server time is part of what the client waited (and both are in seconds): an estimate
    # cannot pass the bucket edge above the slowest request the client saw.
    for promql in (P99, P99_READ, P99_WRITE):
        p99 = one_value(await wait_for(prometheus, promql, has_number))
        ceiling = await traffic.latency_ceiling()
        assert 0 < p99 <= ceiling, (promql, p99, traffic.slowest_s)

    # 404s are the client's mistakes: the ratio counts 5xx only, and there are none yet.
    errors = await wait_for(prometheus, ERROR_RATIO, has_number)
    assert one_value(errors) == 0
    # Every DynamoDB call succeeded (moto does not throttle): a ratio of exactly 0, over calls
    # that were made.
    throttled = await wait_for(prometheus, THROTTLE_RATIO, has_number)
    assert one_value(throttled) == 0
    calls = await wait_for(
        prometheus, "sum(rate(hustlehub_dynamodb_requests_total[1m])) > 0", lambda r: bool(r)
    )
    assert one_value(calls) > 0

    seen = set(traffic.outcomes)
    assert {("read", 200), ("missing", 404), ("create", 201), ("delete", 204)} <= seen
    assert not [outcome for outcome in seen if outcome[1] >= 500], traffic.outcomes


async def failing_phase(prometheus: PrometheusServer, traffic: Traffic) -> None:
    # DynamoDB refuses connections: whatever the cache cannot answer fails with 503, and the
    # error ratio leaves 0 (but stays below 1: 404s and cached reads still count as served).
    errors = await wait_for(prometheus, f"{ERROR_RATIO} > 0", lambda r: bool(r))
    assert 0 < one_value(errors) < 1
    failed = {outcome: n for outcome, n in traffic.outcomes.items() if outcome[1] >= 500}
    assert failed, traffic.outcomes
    assert {status for _, status in failed} == {503}, failed
