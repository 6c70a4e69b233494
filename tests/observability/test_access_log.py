"""The access log: which requests get a line, and what a line says."""

from __future__ import annotations

import json
import uuid
from typing import Any

from service.api.requestid import HEADER
from service.app import create_app
from service.config import Settings
from tests.support.app import AiohttpClient, bearer
from tests.support.logcapture import captured_logs
from tests.support.tokens import TokenMint


def _access(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e.get("logger") == "hustlehub.access"]


async def test_errors_mode_logs_errors_and_slow_requests_only(
    aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    quiet = settings.model_copy(update={"access_log": "errors", "access_log_sample": 0.0})
    client = await aiohttp_client(create_app(quiet))
    with captured_logs(level="info") as lines:
        for _ in range(20):
            assert (await client.get("/healthz")).status == 200
        assert (await client.get("/v1/listings/not-there")).status == 404
        assert (await client.get("/no/route/here")).status == 404
    lines_ = _access(lines.events())
    assert [(e["route"], e["status"]) for e in lines_] == [
        ("/v1/listings/{ref}", 404),
        ("unmatched", 404),
    ]
    slow = settings.model_copy(update={"access_log_sample": 0.0, "access_log_slow_s": 1e-9})
    client = await aiohttp_client(create_app(slow))
    with captured_logs(level="info") as lines:
        assert (await client.get("/healthz")).status == 200
    assert [e["status"] for e in _access(lines.events())] == [200]


async def test_a_sample_of_one_logs_everything_and_off_logs_nothing(
    aiohttp_client: AiohttpClient, settings: Settings
) -> None:
    every = settings.model_copy(update={"access_log": "errors", "access_log_sample": 1.0})
    client = await aiohttp_client(create_app(every))
    with captured_logs(level="info") as lines:
        for _ in range(5):
            await client.get("/healthz")
    assert len(_access(lines.events())) == 5
    off = settings.model_copy(update={"access_log": "off"})
    client = await aiohttp_client(create_app(off))
    with captured_logs(level="info") as lines:
        await client.get("/no/route/here")
        await client.get("/healthz")
    assert _access(lines.events()) == []


async def test_a_line_names_the_route_template_outcome_and_a_hashed_user(
    aiohttp_client: AiohttpClient, settings: Settings, mint: TokenMint
) -> None:
    sub = f"user-{uuid.uuid4()}"
    user_token = mint.token(sub)
    client = await aiohttp_client(create_app(settings.model_copy(update={"access_log": "all"})))
    with captured_logs(level="info") as lines:
        miss = await client.get("/v1/listings/some-raw-slug-1", headers={HEADER: "r-1"})
        hit = await client.get("/v1/listings/some-raw-slug-1", headers={HEADER: "r-2"})
        me = await client.get("/v1/me", headers={**bearer(user_token), HEADER: "r-3"})
        await client.get("/v1/me", headers={**bearer(user_token), HEADER: "r-4"})
    assert (miss.status, hit.status) == (404, 404)
    by_id = {e["request_id"]: e for e in _access(lines.events())}
    first, second, signed_in = by_id["r-1"], by_id["r-2"], by_id["r-3"]
    assert first["method"] == "GET"
    assert first["route"] == "/v1/listings/{ref}"  # never the raw path
    # (aiohttp's own access logger, which the test server runs and `serve` does not, has it.)
    assert "some-raw-slug-1" not in json.dumps(_access(lines.events()))
    assert first["cache"] == "miss"
    assert first["dynamodb_calls"] >= 1
    assert second["cache"] in {"memory", "redis"}  # a cached 404
    assert second["dynamodb_calls"] == 0
    assert first["bytes"] == len(await miss.read())
    assert first["duration_ms"] > 0
    assert "user" not in first
    assert signed_in["route"] == "/v1/me"
    assert signed_in["status"] == me.status
    assert len(signed_in["user"]) == 16
    assert user_token not in lines.text
    assert sub not in lines.text  # keyed hash: lines of one user link up, not to the user
    assert by_id["r-4"]["user"] == signed_in["user"]
