"""The legacy Postgres failing under the real app (a TCP fault proxy in front of it): in
dual-write reads fail over to the cache's copies and writes are refused with 503, never a
500 and never half done; in dual-read DynamoDB goes on answering."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from urllib.parse import urlsplit, urlunsplit

import pytest

from service.config import Settings
from tests.api.factories import create_category, unique_slug
from tests.migrate_phases.conftest import StartApp, admin_token_for
from tests.support.app import bearer
from tests.support.faultproxy import FaultProxy, Mode
from tests.support.tokens import TokenMint

PhaseSettings = Callable[..., Settings]


@pytest.fixture
async def postgres_proxy() -> AsyncIterator[FaultProxy]:
    async with FaultProxy("127.0.0.1", 5432) as proxy:
        yield proxy


def through(proxy: FaultProxy, dsn: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(netloc=f"postgres@127.0.0.1:{proxy.port}"))


@pytest.mark.parametrize("mode", [Mode.REFUSE, Mode.BLACKHOLE])
async def test_dual_write_with_postgres_down_serves_copies_and_refuses_writes(
    start_app: StartApp,
    phase_settings: PhaseSettings,
    mint: TokenMint,
    legacy_dsn: str,
    postgres_proxy: FaultProxy,
    mode: Mode,
) -> None:
    settings = phase_settings(
        "dual-write",
        migration={
            "legacy_dsn": through(postgres_proxy, legacy_dsn),
            "legacy_command_timeout_s": 0.5,
        },
    )
    client = await start_app(settings)
    token = await admin_token_for(client, mint)
    category = await create_category(client, token)
    cached = f"/v1/categories/{category['id']}"
    # Warming the cache, before any fault: the 0.5 s command timeout (short for the fault's
    # sake) can expire on a loaded machine, so a few tries, each needing a healthy Postgres.
    warmed = [(await client.get(cached)).status for _ in range(3)]
    assert 200 in warmed, warmed

    await postgres_proxy.set_mode(mode)
    hit = await client.get(cached)
    assert hit.status == 200
    assert hit.headers["X-Cache"] in ("memory", "redis")
    miss = await client.get(f"/v1/categories/{unique_slug('uncached')}")
    assert miss.status == 503
    assert miss.content_type == "application/problem+json"
    assert "Retry-After" in miss.headers
    write = await client.post(
        "/v1/admin/categories",
        json={"slug": unique_slug("refused"), "name": "Refused"},
        headers=bearer(token),
    )
    assert write.status == 503, await write.text()

    await postgres_proxy.set_mode(Mode.FORWARD)
    again = await create_category(client, token)  # the pool reconnects by itself
    assert (await client.get(f"/v1/categories/{again['slug']}")).status == 200


async def test_dual_read_with_postgres_down_answers_from_dynamodb(
    start_app: StartApp,
    phase_settings: PhaseSettings,
    mint: TokenMint,
    legacy_dsn: str,
    postgres_proxy: FaultProxy,
) -> None:
    settings = phase_settings(
        "dual-read",
        migration={
            "legacy_dsn": through(postgres_proxy, legacy_dsn),
            "legacy_command_timeout_s": 0.5,
        },
    )
    client = await start_app(settings)
    token = await admin_token_for(client, mint)
    category = await create_category(client, token, name="Still here")
    await postgres_proxy.set_mode(Mode.REFUSE)
    response = await client.get(f"/v1/categories/{category['slug']}")
    assert response.status == 200
    assert (await response.json())["name"] == "Still here"
    assert (await client.get("/v1/categories")).status == 200
    write = await client.post(
        "/v1/admin/categories",
        json={"slug": unique_slug("refused"), "name": "Refused"},
        headers=bearer(token),
    )
    assert write.status == 503


async def test_a_silent_postgres_delays_dual_read_answers_by_the_shadow_timeout_only(
    start_app: StartApp,
    phase_settings: PhaseSettings,
    mint: TokenMint,
    legacy_dsn: str,
    postgres_proxy: FaultProxy,
) -> None:
    settings = phase_settings(
        "dual-read",
        migration={
            "legacy_dsn": through(postgres_proxy, legacy_dsn),
            "legacy_command_timeout_s": 5.0,
            "shadow_timeout_s": 0.2,
        },
    )
    client = await start_app(settings)
    token = await admin_token_for(client, mint)
    category = await create_category(client, token, name="Answered")
    await postgres_proxy.set_mode(Mode.BLACKHOLE)
    started = time.monotonic()
    response = await client.get(f"/v1/categories/{category['id']}")
    elapsed = time.monotonic() - started
    assert response.status == 200
    assert (await response.json())["name"] == "Answered"
    # Bounded by the 0.2 s shadow timeout, not by Postgres's 5 s command timeout.
    assert elapsed < 2.5, elapsed
