"""SIGTERM under load: readiness flips first, requests in flight finish, none fails."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid

import aiohttp
import pytest

from tests.support.service_process import service_process, settings_env
from tests.support.tokens import CLIENT_ID, POOL_ID, TokenMint

# The test body starts the service as a child process (caching in the machine's Redis),
# where no fixture can mark it.
pytestmark = [pytest.mark.subprocess, pytest.mark.redis]

CLIENTS = 16


async def _client(
    session: aiohttp.ClientSession, url: str, stop: asyncio.Event, outcomes: list[int | str]
) -> None:
    for _ in range(100_000):  # bounded by count; stops when readiness says so
        if stop.is_set():
            return
        try:
            async with session.get(url) as response:
                await response.read()
                outcomes.append(response.status)
        except aiohttp.ClientError as exc:
            outcomes.append(type(exc).__name__)


async def _watch_readiness(
    session: aiohttp.ClientSession, url: str, stop: asyncio.Event, deadline: float
) -> float:
    # What a load balancer does: poll readiness, stop routing to an instance that fails it.
    while time.monotonic() < deadline:
        async with session.get(url) as response:
            if response.status == 503:
                stop.set()
                return time.monotonic()
        await asyncio.sleep(0.05)
    stop.set()
    raise AssertionError("readiness never turned 503 after SIGTERM")


@pytest.mark.timeout(120)
async def test_sigterm_under_load_fails_no_request(
    moto_endpoint: str, api_table: str, mint: TokenMint
) -> None:
    env = settings_env(
        endpoint=moto_endpoint, table=api_table, jwks_url=mint.jwks_url, pool_id=POOL_ID,
        client_id=CLIENT_ID, prefix=f"hh-term-{uuid.uuid4().hex[:8]}",
    )  # fmt: skip
    async with service_process(env, args=("--drain", "1.0")) as service:
        outcomes: list[int | str] = []
        stop = asyncio.Event()
        connector = aiohttp.TCPConnector(limit=CLIENTS + 2)
        async with aiohttp.ClientSession(connector=connector) as session:
            url = f"{service.base_url}/v1/categories"
            clients = [
                asyncio.create_task(_client(session, url, stop, outcomes)) for _ in range(CLIENTS)
            ]
            await asyncio.sleep(1.0)
            served_before = len(outcomes)
            signalled = time.monotonic()
            service.proc.send_signal(signal.SIGTERM)
            flipped = await _watch_readiness(
                session, f"{service.base_url}/readyz", stop, signalled + 10
            )
            await asyncio.gather(*clients)
        code = await service.stop(within_s=30)
    assert served_before > 50
    assert flipped - signalled < 1.0
    failures = [o for o in outcomes if o != 200]
    assert failures == []
    assert code == 0
