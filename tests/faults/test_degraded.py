"""Degrading within the targets: through a table outage a stale copy answers after a short
wait, not after the call deadline, while one load per key keeps trying."""

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
from tests.api.factories import create_category
from tests.support.app import AiohttpClient
from tests.support.faultproxy import FaultProxy, Mode


@pytest.fixture
async def dynamodb_proxy(moto_endpoint: str) -> AsyncIterator[FaultProxy]:
    upstream = urlsplit(moto_endpoint)
    async with FaultProxy(upstream.hostname or "127.0.0.1", upstream.port or 80) as proxy:
        yield proxy


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
