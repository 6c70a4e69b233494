"""Every phase through the HTTP API: an admin write's response is followed by reads that see
it; the phase is configuration only; dynamodb-only opens no Postgres connection; switching
phases forward and back keeps the data and the cursors."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any, get_args

import asyncpg
import pytest
from pydantic import ValidationError

from service.config import MigrationPhase, Settings
from service.runtime.appkeys import LEGACY_PROBE, READINESS, STORES
from service.store.categories import CategoryStore
from service.store.listings import ListingStore
from service.transition.legacy.db import SCHEMA_MARK
from tests.api.factories import create_category, create_listing
from tests.migrate_phases.conftest import Client, StartApp, admin_token_for
from tests.migrate_phases.support import metric
from tests.support.app import bearer
from tests.support.tokens import TokenMint

PhaseSettings = Callable[..., Settings]
PHASES: tuple[MigrationPhase, ...] = get_args(MigrationPhase)


async def patch(client: Client, token: str, path: str, read: str, body: dict[str, Any]) -> Any:
    etag = (await client.get(read)).headers["ETag"]
    response = await client.patch(path, json=body, headers={**bearer(token), "If-Match": etag})
    assert response.status == 200, await response.text()
    return await response.json()


@pytest.mark.parametrize("phase", PHASES)
async def test_reads_after_an_admin_write_see_it(
    start_app: StartApp, phase_settings: PhaseSettings, mint: TokenMint, phase: MigrationPhase
) -> None:
    client = await start_app(phase_settings(phase))
    token = await admin_token_for(client, mint)
    category = await create_category(client, token, name="Old name")
    one = f"/v1/categories/{category['slug']}"
    page = f"/v1/categories/{category['slug']}/listings"
    # Fill the cache, and prove the second read is a hit.
    assert (await (await client.get(one)).json())["name"] == "Old name"
    assert (await client.get(one)).headers["X-Cache"] in ("memory", "redis")
    assert (await (await client.get(page)).json())["items"] == []
    listed = await (await client.get("/v1/categories")).json()
    assert category["id"] in [c["id"] for c in listed["items"]]

    await patch(client, token, f"/v1/admin/categories/{category['id']}", one, {"name": "New"})
    assert (await (await client.get(one)).json())["name"] == "New"
    listed = await (await client.get("/v1/categories")).json()
    assert {c["id"]: c["name"] for c in listed["items"]}[category["id"]] == "New"

    remote = f"{page}?remote=true"  # a filtered page: served from the category's chunks
    assert (await (await client.get(remote)).json())["items"] == []
    listing = await create_listing(client, token, category["id"], title="First title", remote=True)
    assert [i["id"] for i in (await (await client.get(page)).json())["items"]] == [listing["id"]]
    assert [i["id"] for i in (await (await client.get(remote)).json())["items"]] == [listing["id"]]
    counts = {
        c["id"]: c["listingCount"]
        for c in (await (await client.get("/v1/categories")).json())["items"]
    }
    assert counts[category["id"]] == 1
    at = f"/v1/listings/{listing['slug']}"
    assert (await (await client.get(at)).json())["title"] == "First title"
    await patch(client, token, f"/v1/admin/listings/{listing['id']}", at, {"title": "Second"})
    assert (await (await client.get(at)).json())["title"] == "Second"
    assert (await (await client.get(page)).json())["items"][0]["title"] == "Second"
    assert (await (await client.get(remote)).json())["items"][0]["title"] == "Second"

    deleted = await client.delete(f"/v1/admin/listings/{listing['id']}", headers=bearer(token))
    assert deleted.status == 204
    assert (await client.get(at)).status == 404
    assert (await (await client.get(page)).json())["items"] == []
    assert (await (await client.get(remote)).json())["items"] == []
    gone = await client.delete(f"/v1/admin/categories/{category['id']}", headers=bearer(token))
    assert gone.status == 204
    assert (await client.get(one)).status == 404


async def test_dynamodb_only_opens_no_postgres_connection(
    start_app: StartApp, phase_settings: PhaseSettings, legacy_dsn: str, pg: asyncpg.Connection
) -> None:
    tag = f"hh-phase-{uuid.uuid4().hex[:8]}"
    dsn = f"{legacy_dsn}?application_name={tag}"
    sessions = "select count(*) from pg_stat_activity where application_name = $1"

    dynamodb_only = await start_app(phase_settings("dynamodb-only", migration={"legacy_dsn": dsn}))
    assert (await dynamodb_only.get("/v1/categories")).status == 200
    assert await pg.fetchval(sessions, tag) == 0
    assert LEGACY_PROBE not in dynamodb_only.app
    assert "postgres" not in dynamodb_only.app[READINESS].probes
    stores = dynamodb_only.app[STORES]
    assert isinstance(stores.categories, CategoryStore)
    assert isinstance(stores.listings, ListingStore)

    # The same DSN in a legacy phase does connect: the count above could have been non-zero.
    dual_write = await start_app(phase_settings("dual-write", migration={"legacy_dsn": dsn}))
    assert (await dual_write.get("/v1/categories")).status == 200
    assert await pg.fetchval(sessions, tag) >= 1
    ready = await (await dual_write.get("/readyz")).json()
    assert ready["checks"]["postgres"] is True


def test_the_legacy_phases_need_a_dsn_and_dynamodb_only_ignores_it() -> None:
    for phase in ("dual-write", "dual-read"):
        with pytest.raises(ValidationError, match="HUSTLEHUB_MIGRATION__LEGACY_DSN"):
            Settings(mode="test", migration={"phase": phase})
    assert Settings(mode="test").migration.phase == "dynamodb-only"
    ignored = Settings(mode="test", migration={"legacy_dsn": "postgresql://nowhere.invalid/x"})
    assert not ignored.uses_legacy
    with pytest.raises(ValidationError):
        Settings(mode="test", migration={"phase": "dual"})


async def test_phases_switch_forward_and_back_on_the_same_data(
    start_app: StartApp, phase_settings: PhaseSettings, mint: TokenMint
) -> None:
    write_phase = await start_app(phase_settings("dual-write"))
    token = await admin_token_for(write_phase, mint)
    category = await create_category(write_phase, token, name="Switching")
    made = [await create_listing(write_phase, token, category["id"]) for _ in range(3)]
    page = f"/v1/categories/{category['id']}/listings?limit=2"
    first = await (await write_phase.get(page)).json()
    assert len(first["items"]) == 2
    assert first["nextCursor"]

    # Forward: dual-read sees the same answers in DynamoDB and compares them equal.
    read_phase = await start_app(phase_settings("dual-read"))
    mismatches = "hustlehub_migration_shadow_mismatches_total"
    assert (await (await read_phase.get(page)).json()) == first
    assert await metric(read_phase, mismatches, entity="listing_page") == 0
    # A write in dual-read, then back to dual-write (rollback): Postgres has it.
    renamed = await patch(
        read_phase,
        token,
        f"/v1/admin/categories/{category['id']}",
        f"/v1/categories/{category['id']}",
        {"name": "Renamed in dual-read"},
    )
    back = await start_app(phase_settings("dual-write"))
    assert await (await back.get(f"/v1/categories/{category['id']}")).json() == renamed

    # Forward to the end: DynamoDB alone serves the same data, and a cursor issued in
    # dual-write (by Postgres) continues the list there.
    only = await start_app(phase_settings("dynamodb-only"))
    assert await (await only.get(f"/v1/categories/{category['id']}")).json() == renamed
    rest = await (await only.get(f"{page}&cursor={first['nextCursor']}")).json()
    # Postgres continues its own cursor to the same second page.
    assert await (await back.get(f"{page}&cursor={first['nextCursor']}")).json() == rest
    seen = [item["id"] for item in first["items"] + rest["items"]]
    assert sorted(seen) == sorted(listing["id"] for listing in made)
    assert rest["nextCursor"] is None
    listing_body = await (await only.get(f"/v1/listings/{made[0]['id']}")).json()
    assert listing_body["categoryName"] == "Renamed in dual-read"


async def test_a_start_up_waits_on_no_lock_a_running_instance_holds(
    start_app: StartApp, phase_settings: PhaseSettings, pg: asyncpg.Connection, legacy_dsn: str
) -> None:
    """A reconcile round holds outbox rows and a mirror reads the catalogue for as long as
    DynamoDB takes; a start-up's DDL used to queue behind them until its command timeout."""
    settings = phase_settings("dual-write", migration={"legacy_command_timeout_s": 2.0})
    await start_app(settings)  # applies dualwrite.sql and marks the database
    busy = "lock table public.categories, public.listings, public.hustlehub_outbox"
    async with pg.transaction():
        await pg.execute(f"{busy} in row exclusive mode")
        started = time.monotonic()
        await start_app(settings)
        assert time.monotonic() - started < 1.5

    # An unmarked database (an older schema): the DDL waits a bounded time, tries again, and
    # gets through once the locks are gone.
    await pg.execute("comment on table public.hustlehub_outbox is null")
    holder = await asyncpg.connect(legacy_dsn)
    try:
        held = holder.transaction()
        await held.start()
        await holder.execute(f"{busy} in row exclusive mode")

        async def release() -> None:
            await asyncio.sleep(1.5)
            await held.rollback()

        releasing = asyncio.create_task(release())
        started = time.monotonic()
        await start_app(settings)
        waited = time.monotonic() - started
        await releasing
    finally:
        await holder.close()
    assert waited >= 1.0  # it did queue behind the locks, past one lock timeout
    mark = "select obj_description('public.hustlehub_outbox'::regclass, 'pg_class')"
    assert await pg.fetchval(mark) == SCHEMA_MARK
