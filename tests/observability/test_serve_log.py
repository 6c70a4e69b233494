"""`hustlehub serve` as production runs it: JSON lines on stderr, a start-up line saying what
runs, a shutdown line, and a request's lines under its id."""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from typing import Any

import aiohttp
import pytest

from tests.support.service_process import service_process, settings_env
from tests.support.tokens import CLIENT_ID, POOL_ID, TokenMint

pytestmark = [pytest.mark.subprocess, pytest.mark.redis]


async def test_serve_writes_json_lines_with_a_start_and_a_stop(
    moto_endpoint: str, api_table: str, mint: TokenMint
) -> None:
    env = {
        **settings_env(
            endpoint=moto_endpoint,
            table=api_table,
            jwks_url=mint.jwks_url,
            pool_id=POOL_ID,
            client_id=CLIENT_ID,
            prefix=f"hh-serve-log-{uuid.uuid4().hex[:8]}",
        ),
        "HUSTLEHUB_LOG_FORMAT": "json",
        "HUSTLEHUB_CURSOR_SECRET": "a-cursor-secret-that-stays-out-of-logs",
    }
    async with service_process(
        env, args=("--drain", "0.2"), stderr=asyncio.subprocess.PIPE
    ) as service:
        timeout = aiohttp.ClientTimeout(total=30)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(
                f"{service.base_url}/v1/nothing/here", headers={"X-Request-Id": "from-client"}
            ) as response,
        ):
            assert response.status == 404
            assert response.headers["X-Request-Id"] == "from-client"
        assert await service.stop(signal.SIGTERM) == 0
        assert service.proc.stderr is not None
        text = (await service.proc.stderr.read()).decode()
    events: list[dict[str, Any]] = [json.loads(line) for line in text.splitlines() if line]
    by_event = {e["event"]: e for e in events}
    started = by_event["started"]
    assert started["mode"] == "test"
    assert started["workers"] == 1
    assert started["migration_phase"] == "dynamodb-only"
    assert started["cache_layers"] == ["memory", "redis"]
    assert isinstance(started["port"], int)
    assert started["version"]
    assert "stopping" in by_event
    assert "stopped" in by_event
    (access,) = [e for e in events if e.get("logger") == "hustlehub.access"]
    assert (access["request_id"], access["status"], access["route"]) == (
        "from-client",
        404,
        "unmatched",
    )
    assert "a-cursor-secret-that-stays-out-of-logs" not in text
