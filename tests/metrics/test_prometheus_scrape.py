"""A real Prometheus scrapes a tiny instrumented app and evaluates our rules on it.

This proves what the unit tests cannot: Prometheus parses our exposition format and the
rule files load and evaluate against the series the middleware really produces.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from metrics.registry import Metrics, render, scrape_registry
from metrics.rules import RULES_DIR
from tests.metrics.test_http import make_app
from tests.support.prometheus_tools import PrometheusServer, Tools, run_prometheus

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]
Client = TestClient[web.Request, web.Application]
ClientFactory = Callable[[TestServer], Awaitable[Client]]


def instrumented_app(metrics: Metrics) -> web.Application:
    app = make_app(metrics)

    async def scrape(request: web.Request) -> web.Response:
        body, content_type = render(scrape_registry(None, metrics.registry))
        return web.Response(body=body, headers={"Content-Type": content_type})

    app.router.add_get("/metrics", scrape)
    return app


async def traffic(client: Client) -> None:
    # One request in ten crashes: far above the 0.5% error alert threshold.
    while True:
        for i in range(10):
            await client.get("/crash" if i == 0 else f"/listings/{i}")
        await asyncio.sleep(0.05)


def one_value(result: list[dict[str, Any]]) -> float:
    assert len(result) == 1, result
    return float(result[0]["value"][1])


async def wait_for(
    prometheus: PrometheusServer, promql: str, done: Callable[[list[dict[str, Any]]], bool]
) -> list[dict[str, Any]]:
    # In a thread: the app being scraped runs on this event loop and must keep answering.
    return await asyncio.to_thread(prometheus.wait_for, promql, done, timeout_s=45)


@pytest.mark.timeout(900)  # may have to apt-get install prometheus first
async def test_prometheus_scrapes_the_app_and_evaluates_the_rules(
    aiohttp_server: ServerFactory,
    aiohttp_client: ClientFactory,
    metrics: Metrics,
    prometheus_tools: Tools,
    tmp_path: Path,
) -> None:
    server = await aiohttp_server(instrumented_app(metrics))
    client = await aiohttp_client(server)
    sender = asyncio.create_task(traffic(client))
    try:
        with run_prometheus(
            prometheus_tools,
            tmp_path / "prometheus",
            target=f"127.0.0.1:{server.port}",
            rule_files=[RULES_DIR / "recording.yml", RULES_DIR / "alerts.yml"],
        ) as prometheus:
            up = await wait_for(prometheus, 'up{job="hustlehub"}', lambda r: bool(r))
            assert one_value(up) == 1, prometheus.log_tail()

            # > 0: every route's series exists from the start, the others' at zero.
            routes = await wait_for(
                prometheus,
                "sum by (route) (hustlehub_http_requests_total) > 0",
                lambda r: len(r) >= 2,
            )
            assert {r["metric"]["route"] for r in routes} == {"/listings/{id}", "/crash"}

            ratio = await wait_for(
                prometheus,
                "hustlehub:http_request_errors:ratio_rate5m > 0",
                lambda r: bool(r),
            )
            assert 0.05 < one_value(ratio) < 0.15  # one in ten

            # "for: 5m" keeps it pending in a test this short: pending proves the rule runs.
            pending = await wait_for(
                prometheus, 'ALERTS{alertname="HustleHubHighErrorRate"}', lambda r: bool(r)
            )
            assert pending[0]["metric"]["alertstate"] == "pending"
            assert pending[0]["metric"]["severity"] == "page"
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
