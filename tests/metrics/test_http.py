"""HTTP metrics as the endpoint wrapper records them, through a tiny aiohttp app built by the
service's own `add_routes`, and aiohttp's test client."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client import CollectorRegistry

from metrics.http import LATENCY_BUCKETS
from metrics.registry import Metrics
from service.api.routes import Route, add_routes
from tests.metrics.samples import series

Client = TestClient[web.Request, web.Application]
ClientFactory = Callable[[web.Application], Awaitable[Client]]

REQUESTS = "hustlehub_http_requests_total"
DURATION_COUNT = "hustlehub_http_request_duration_seconds_count"
DURATION_BUCKET = "hustlehub_http_request_duration_seconds_bucket"
IN_FLIGHT = "hustlehub_http_requests_in_flight"


class Boom(Exception):
    pass


async def listing(request: web.Request) -> web.Response:
    return web.json_response({"id": request.match_info["id"]})


async def missing(request: web.Request) -> web.Response:
    raise web.HTTPNotFound()


async def crash(request: web.Request) -> web.Response:
    raise Boom("handler bug")


async def upload(request: web.Request) -> web.Response:
    return web.json_response({"bytes": len(await request.read())})


async def in_flight(request: web.Request) -> web.Response:
    registry = request.app[METRICS].registry
    return web.json_response({"in_flight": registry.get_sample_value(IN_FLIGHT)})


METRICS = web.AppKey("metrics", Metrics)


def make_app(metrics: Metrics) -> web.Application:
    app = web.Application()
    app[METRICS] = metrics
    routes = [
        Route("GET", "/listings/{id}", listing, ""),
        Route("POST", "/listings/{id}", listing, ""),
        Route("PUT", "/uploads/{id}", upload, ""),
        Route("GET", "/gone/{slug}", missing, ""),
        Route("GET", "/crash", crash, ""),
        Route("GET", "/in-flight", in_flight, ""),
    ]
    add_routes(app, routes, metrics=metrics.http, deadline_s=30.0)
    return app


def requests_for(registry: CollectorRegistry, **labels: str) -> float:
    return registry.get_sample_value(REQUESTS, labels) or 0.0


@pytest.fixture
async def client(aiohttp_client: ClientFactory, metrics: Metrics) -> Client:
    return await aiohttp_client(make_app(metrics))


async def test_route_template_is_the_label(client: Client, registry: CollectorRegistry) -> None:
    for listing_id in ("a1", "b2", "c3"):
        assert (await client.get(f"/listings/{listing_id}")).status == 200
    assert (await client.post("/listings/a1")).status == 200

    assert requests_for(registry, route="/listings/{id}", method="GET", status="200") == 3
    assert requests_for(registry, route="/listings/{id}", method="POST", status="200") == 1
    count = registry.get_sample_value(
        DURATION_COUNT, {"route": "/listings/{id}", "method": "GET", "status_class": "2xx"}
    )
    assert count == 3


async def test_unknown_paths_and_ids_add_no_series(
    client: Client, registry: CollectorRegistry
) -> None:
    # One of each kind first, so the series they legitimately create exist.
    await client.get("/nowhere")
    await client.get("/listings/first")
    before = {name: set(series(registry, name)) for name in (REQUESTS, DURATION_BUCKET)}

    semaphore = asyncio.Semaphore(50)  # bounded concurrency: the test client's pool

    async def one(i: int) -> None:
        token = uuid.uuid4().hex
        path = f"/{token}/{i}" if i % 2 else f"/listings/{token}"
        async with semaphore, client.get(path) as response:
            assert response.status == (404 if i % 2 else 200)

    await asyncio.gather(*(one(i) for i in range(10_000)))

    after = {name: set(series(registry, name)) for name in (REQUESTS, DURATION_BUCKET)}
    assert after == before
    assert requests_for(registry, route="unmatched", method="GET", status="404") == 5_001
    assert requests_for(registry, route="/listings/{id}", method="GET", status="200") == 5_001


async def test_unknown_methods_are_clamped(client: Client, registry: CollectorRegistry) -> None:
    await client.request("PURGE", "/listings/x")
    # aiohttp's parser refuses methods it has never heard of (400, before any middleware);
    # these two it knows, and the app routes neither.
    await client.request("PROPFIND", "/listings/x")
    assert requests_for(registry, route="unmatched", method="other", status="405") == 2


async def test_raised_http_exceptions_and_crashes_are_counted(
    client: Client, registry: CollectorRegistry
) -> None:
    assert (await client.get("/gone/thing")).status == 404
    assert (await client.get("/crash")).status == 500

    assert requests_for(registry, route="/gone/{slug}", method="GET", status="404") == 1
    assert requests_for(registry, route="/crash", method="GET", status="500") == 1
    crash_count = registry.get_sample_value(
        DURATION_COUNT, {"route": "/crash", "method": "GET", "status_class": "5xx"}
    )
    assert crash_count == 1


async def wait_until(done: Callable[[], bool]) -> None:
    for _ in range(250):  # 5 s at most
        if done():
            return
        await asyncio.sleep(0.02)


async def test_a_client_hanging_up_mid_body_is_499_not_500(
    metrics: Metrics, registry: CollectorRegistry
) -> None:
    # A runner of our own: the test server cancels handlers when the client goes away, the
    # production server (AppRunner's default) lets request.read() raise instead.
    runner = web.AppRunner(make_app(metrics))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"PUT /uploads/a HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 64\r\n\r\n{")
        await writer.drain()
        await wait_until(lambda: registry.get_sample_value(IN_FLIGHT) == 1)  # waiting for body
        assert registry.get_sample_value(IN_FLIGHT) == 1
        writer.close()
        await writer.wait_closed()
        await wait_until(lambda: registry.get_sample_value(IN_FLIGHT) == 0)

        assert requests_for(registry, route="/uploads/{id}", method="PUT", status="499") == 1
        assert requests_for(registry, route="/uploads/{id}", method="PUT", status="500") == 0
        # A complete upload is still a 200, and a crash with its client still there a 500.
        async with aiohttp.ClientSession() as session:
            base = f"http://127.0.0.1:{port}"
            async with session.put(f"{base}/uploads/b", data=b"{}") as response:
                assert response.status == 200
            async with session.get(f"{base}/crash") as response:
                assert response.status == 500
        assert requests_for(registry, route="/uploads/{id}", method="PUT", status="200") == 1
        assert requests_for(registry, route="/crash", method="GET", status="500") == 1
    finally:
        await runner.cleanup()


async def test_in_flight_counts_the_running_request(
    client: Client, registry: CollectorRegistry
) -> None:
    response = await client.get("/in-flight")
    assert await response.json() == {"in_flight": 1.0}
    assert registry.get_sample_value(IN_FLIGHT) == 0.0


async def test_bucket_edges_sit_on_the_slo_numbers(
    client: Client, registry: CollectorRegistry
) -> None:
    assert {0.05, 0.1} <= set(LATENCY_BUCKETS)
    # Finer than the client default around the SLOs: an edge between 40 and 50 ms, and
    # between 75 and 100 ms.
    assert any(0.04 <= edge < 0.05 for edge in LATENCY_BUCKETS)
    assert any(0.075 <= edge < 0.1 for edge in LATENCY_BUCKETS)
    await client.get("/listings/x")
    edges = {dict(labels)["le"] for labels in series(registry, DURATION_BUCKET)}
    assert {"0.05", "0.1", "+Inf"} <= edges
