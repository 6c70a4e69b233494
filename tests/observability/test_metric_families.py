"""Every metric family is on /metrics from the start, with one process or several, and the
`*_created` series only when asked for."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from metrics.registry import Metrics, render
from service.app import create_app
from service.config import Settings
from tests.support.app import AiohttpClient
from tests.support.service_process import service_process, settings_env
from tests.support.tokens import CLIENT_ID, POOL_ID, TokenMint


def defined_families() -> set[str]:
    """Every family the service defines (as a scrape names them), samples or not."""
    text = render(Metrics(CollectorRegistry(auto_describe=True)).registry)[0].decode()
    names = {family.name for family in text_string_to_metric_families(text)}
    assert len(names) > 30
    return names


def families_with_samples(text: str) -> set[str]:
    return {f.name for f in text_string_to_metric_families(text) if f.samples}


def test_throttling_is_among_the_families_checked() -> None:
    assert "hustlehub_dynamodb_throttled_requests" in defined_families()


async def test_one_process_shows_every_family_before_any_traffic_and_no_created_series(
    aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    client: TestClient[Any, Any] = await aiohttp_client(create_app(settings))
    text = await (await client.get("/metrics")).text()
    missing = defined_families() - families_with_samples(text)
    assert not missing, sorted(missing)
    assert "_created" not in text
    asked = await aiohttp_client(
        create_app(settings.model_copy(update={"metrics_created_series": True}))
    )
    assert "hustlehub_http_requests_created" in await (await asked.get("/metrics")).text()


@pytest.mark.subprocess
@pytest.mark.redis
async def test_two_workers_show_every_family_before_any_traffic(
    moto_endpoint: str, api_table: str, mint: TokenMint, tmp_path: Path
) -> None:
    env = settings_env(
        endpoint=moto_endpoint,
        table=api_table,
        jwks_url=mint.jwks_url,
        pool_id=POOL_ID,
        client_id=CLIENT_ID,
        prefix=f"hh-families-{uuid.uuid4().hex[:8]}",
    )
    env["HUSTLEHUB_METRICS_MULTIPROC_DIR"] = str(tmp_path)
    async with service_process(env, args=("--workers", "2", "--drain", "0.2")) as service:
        # Both workers have built their metrics (each writes files named for its pid).
        for _ in range(300):
            pids = {
                name.removesuffix(".db").rsplit("_", 1)[1]
                for name in os.listdir(tmp_path)
                if name.startswith("counter_")
            }
            if len(pids) == 2:
                break
            await asyncio.sleep(0.1)
        assert len(pids) == 2, pids
        timeout = aiohttp.ClientTimeout(total=30)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(f"{service.base_url}/metrics") as response,
        ):
            assert response.status == 200
            text = await response.text()
    missing = defined_families() - families_with_samples(text)
    assert not missing, sorted(missing)
    assert "hustlehub_dynamodb_throttled_requests_total{" in text
    assert "_created" not in text
