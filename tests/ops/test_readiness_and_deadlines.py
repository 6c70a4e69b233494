from __future__ import annotations

import asyncio
from typing import Any

from service.app import create_app
from service.config import Settings
from service.dev.devserver import free_port
from tests.support.app import AiohttpClient


def _dead_dynamodb() -> dict[str, object]:
    return {"dynamodb_endpoint": f"http://127.0.0.1:{free_port()}", "dynamodb_call_deadline_s": 0.5}


async def test_healthz_and_readyz_answer_when_everything_is_up(
    aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    client = await aiohttp_client(create_app(settings))
    assert (await client.get("/healthz")).status == 200
    ready: Any = None
    for _ in range(50):  # the invalidation channel subscribes in the background
        ready = await client.get("/readyz")
        if ready.status == 200:
            break
        await asyncio.sleep(0.1)
    assert ready is not None
    assert ready.status == 200, await ready.text()
    assert (await ready.json())["checks"] == {"dynamodb": True, "redis": True}


async def test_readyz_stays_ready_while_redis_is_unreachable(
    aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    dead = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    client = await aiohttp_client(create_app(dead))
    response = await client.get("/readyz")
    # Reads go to DynamoDB: taking the instance out of rotation would help nobody.
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["status"] == "degraded"
    assert body["checks"] == {"dynamodb": True, "redis": False}
    assert (await client.get("/healthz")).status == 200
    assert (await client.get("/v1/categories")).status == 200


async def test_readyz_stays_ready_while_dynamodb_is_down_and_redis_holds_copies(
    aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    dead = settings.model_copy(update=_dead_dynamodb())
    client = await aiohttp_client(create_app(dead))
    response: Any = None
    for _ in range(50):  # the invalidation channel subscribes in the background
        response = await client.get("/readyz")
        if response.status == 200:
            break
        await asyncio.sleep(0.1)
    assert response is not None
    assert response.status == 200, await response.text()
    assert (await response.json())["checks"] == {"dynamodb": False, "redis": True}


async def test_readyz_is_503_when_nothing_could_be_served(
    aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    # A fresh instance with neither DynamoDB nor Redis, and so no copy of anything: every
    # read would be a 503, so it is not ready (start-up).
    dead = settings.model_copy(
        update={**_dead_dynamodb(), "redis_url": f"redis://127.0.0.1:{free_port()}/0"}
    )
    client = await aiohttp_client(create_app(dead))
    response = await client.get("/readyz")
    assert response.status == 503
    assert response.content_type == "application/problem+json"
    detail = (await response.json())["detail"]
    assert "dynamodb" in detail
    assert "redis" in detail
    assert response.headers["Retry-After"] == "1"
    assert (await client.get("/healthz")).status == 200


async def test_a_cold_read_with_no_database_is_503_with_retry_after(
    aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    dead = settings.model_copy(update=_dead_dynamodb())
    client = await aiohttp_client(create_app(dead))
    response = await client.get("/v1/categories/never-cached")
    assert response.status == 503
    assert response.content_type == "application/problem+json"
    assert int(response.headers["Retry-After"]) >= 1


async def test_a_request_past_its_deadline_is_a_504_problem(
    aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    slow = settings.model_copy(update={"request_timeout_s": 0.000_001})
    client = await aiohttp_client(create_app(slow))
    response = await client.get("/v1/categories")
    assert response.status == 504
    assert response.content_type == "application/problem+json"
