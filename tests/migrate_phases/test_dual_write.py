"""Dual-write: Postgres is the truth, every write reaches DynamoDB, a write DynamoDB missed
waits in the outbox until reconciled, and repeated failure ends in the dead letters."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable

import asyncpg
import pytest
from prometheus_client import CollectorRegistry

from metrics.migration import MigrationMetrics
from service.config import Settings
from service.errors import NotFound
from service.models.category import CategoryCreate
from service.runtime.appkeys import CACHE, SETTINGS, TABLE
from service.store import keys
from service.store.client import dynamodb_client
from service.store.common import get_item
from service.store.stores import Stores, build_stores, cursor_codec
from service.store.table import Table
from service.transition.legacy.categories import LegacyCategoryStore
from service.transition.legacy.db import legacy_pool
from service.transition.wiring import replicator
from tests.api.factories import create_category, create_listing, unique_slug
from tests.integration.store.support import RecordingObserver
from tests.migrate_phases.conftest import Client, StartApp, admin_token_for
from tests.migrate_phases.support import (
    app_dynamodb_failing,
    app_dynamodb_slow,
    dead_rows,
    metric,
    outbox_rows,
    reconciler,
)
from tests.support.app import bearer
from tests.support.tokens import TokenMint

PhaseSettings = Callable[..., Settings]
WRITES = "TransactWriteItems"


def dynamodb_stores(client: Client) -> Stores:
    """The DynamoDB repositories over the app's table client: what DynamoDB holds, whatever
    the phase serves from."""
    return build_stores(client.app[TABLE], cursor_codec(client.app[SETTINGS]))


async def mine(pg: asyncpg.Connection, *ids: str) -> list[asyncpg.Record]:
    return [row for row in await outbox_rows(pg) if row["entity_id"] in ids]


async def test_a_write_commits_to_postgres_and_reaches_dynamodb(
    start_app: StartApp, phase_settings: PhaseSettings, mint: TokenMint, pg: asyncpg.Connection
) -> None:
    client = await start_app(phase_settings("dual-write"))
    token = await admin_token_for(client, mint)
    category = await create_category(client, token, name="Baking")
    listing = await create_listing(client, token, category["id"])
    row = await pg.fetchrow(
        "select name, version from public.categories where id = $1::uuid", category["id"]
    )
    assert row is not None
    assert (row["name"], row["version"]) == ("Baking", 1)
    listed = "select count(*) from public.listings where id = $1::uuid"
    assert await pg.fetchval(listed, listing["id"]) == 1
    mirrored = dynamodb_stores(client)
    in_dynamodb = await mirrored.categories.get(category["id"], consistent=True)
    assert (in_dynamodb.name, in_dynamodb.listing_count) == ("Baking", 1)
    by_slug = await mirrored.listings.get_by_slug(listing["slug"], consistent=True)
    assert by_slug.model_dump(mode="json", by_alias=True) == listing
    page = await mirrored.listings.list_by_category(category["id"], limit=10, cursor=None)
    assert [item.id for item in page.items] == [listing["id"]]
    assert await mine(pg, category["id"], listing["id"]) == []


async def test_reads_come_from_postgres(
    start_app: StartApp, phase_settings: PhaseSettings, pg: asyncpg.Connection
) -> None:
    # A row only Postgres holds (as a Supabase row not yet exported would be) is served.
    slug = unique_slug("legacy-only")
    category_id = await pg.fetchval(
        "insert into public.categories (slug, name) values ($1, 'Legacy') returning id::text", slug
    )
    client = await start_app(phase_settings("dual-write"))
    by_slug = await client.get(f"/v1/categories/{slug}")
    assert by_slug.status == 200
    assert (await by_slug.json())["id"] == category_id
    assert (await client.get(f"/v1/categories/{category_id}")).status == 200
    with pytest.raises(NotFound):
        await dynamodb_stores(client).categories.get(category_id, consistent=True)


async def test_a_write_dynamodb_missed_waits_in_the_outbox_until_reconciled(
    start_app: StartApp,
    phase_settings: PhaseSettings,
    mint: TokenMint,
    pg: asyncpg.Connection,
    legacy_dsn: str,
) -> None:
    client = await start_app(phase_settings("dual-write"))
    token = await admin_token_for(client, mint)
    with app_dynamodb_failing(client, WRITES):
        category = await create_category(client, token, name="Pottery")
        listing = await create_listing(client, token, category["id"])
        etag = (await client.get(f"/v1/categories/{category['id']}")).headers["ETag"]
        patched = await client.patch(
            f"/v1/admin/categories/{category['id']}",
            json={"name": "Ceramics"},
            headers={**bearer(token), "If-Match": etag},
        )
        assert patched.status == 200, await patched.text()
        assert (await (await client.get(f"/v1/categories/{category['id']}")).json())[
            "name"
        ] == "Ceramics"
        # Postgres has every write; reads (from Postgres) see them at once.
        page = await (await client.get(f"/v1/categories/{category['slug']}/listings")).json()
        assert [item["id"] for item in page["items"]] == [listing["id"]]
    pending = await mine(pg, category["id"], listing["id"])
    assert {(r["entity"], r["entity_id"]) for r in pending} == {
        ("category", category["id"]),
        ("listing", listing["id"]),
    }
    assert all(r["attempts"] == 1 and "Unavailable" in r["last_error"] for r in pending)
    assert await metric(client, "hustlehub_migration_outbox_entries_total", outcome="retried") >= 2
    with pytest.raises(NotFound):
        await dynamodb_stores(client).categories.get(category["id"], consistent=True)

    await asyncio.sleep(0.01)  # past the retry backoff (1-2 ms in these settings)
    registry = CollectorRegistry()
    async with legacy_pool(client.app[SETTINGS].migration) as pool:
        outcome = await reconciler(client, pool, registry).reconcile_once(
            invalidate=client.app[CACHE].invalidate
        )
    assert outcome.applied >= len(pending)
    assert outcome.dead == 0
    assert await mine(pg, category["id"], listing["id"]) == []
    mirrored = dynamodb_stores(client)
    current = await (await client.get(f"/v1/categories/{category['id']}")).json()
    in_dynamodb = await mirrored.categories.get(category["id"], consistent=True)
    assert in_dynamodb.model_dump(mode="json", by_alias=True) == current
    assert (in_dynamodb.name, in_dynamodb.version, in_dynamodb.listing_count) == ("Ceramics", 2, 1)
    assert (await mirrored.listings.get(listing["id"], consistent=True)).slug == listing["slug"]
    applied = registry.get_sample_value(
        "hustlehub_migration_outbox_entries_total", {"outcome": "applied"}
    )
    assert applied == outcome.applied


async def test_repeated_failure_ends_in_dead_letters_counted(
    start_app: StartApp,
    phase_settings: PhaseSettings,
    mint: TokenMint,
    pg: asyncpg.Connection,
) -> None:
    settings = phase_settings("dual-write", migration={"max_attempts": 3})
    client = await start_app(settings)
    token = await admin_token_for(client, mint)
    registry = CollectorRegistry()
    async with legacy_pool(settings.migration) as pool:
        replication = reconciler(client, pool, registry)
        with app_dynamodb_failing(client, WRITES):
            category = await create_category(client, token)  # attempt 1, at the write
            for attempt in (2, 3):
                await asyncio.sleep(0.01)
                outcome = await replication.reconcile_once()
                assert outcome.applied == 0, attempt
        assert await mine(pg, category["id"]) == []
        dead = [r for r in await dead_rows(pg) if r["entity_id"] == category["id"]]
        assert [(r["entity"], r["attempts"]) for r in dead] == [("category", 3)]
        dead_count = registry.get_sample_value(
            "hustlehub_migration_outbox_entries_total", {"outcome": "dead"}
        )
        assert dead_count == 1
        backlog = await replication.outbox.backlog()
        assert backlog.dead >= 1
        # Nothing is lost there: requeued, the entry reaches DynamoDB once DynamoDB is back.
        assert await replication.outbox.requeue_dead() == backlog.dead
        await replication.reconcile_once()
    in_dynamodb = await dynamodb_stores(client).categories.get(category["id"], consistent=True)
    assert in_dynamodb.slug == category["slug"]
    assert [r for r in await dead_rows(pg) if r["entity_id"] == category["id"]] == []


async def test_a_write_while_dynamodb_is_at_a_dead_port_is_kept_and_applied_later(
    phase_settings: PhaseSettings, pg: asyncpg.Connection, moto_endpoint: str
) -> None:
    # The repositories alone, DynamoDB at a port nothing listens on.
    dead = phase_settings(
        "dual-write", dynamodb_endpoint="http://127.0.0.1:9", dynamodb_call_deadline_s=1.0
    )
    live = phase_settings("dual-write")
    async with legacy_pool(dead.migration) as pool:
        async with dynamodb_client(dead) as dead_client:
            table = Table.from_settings(dead_client, dead, observer=RecordingObserver())
            to_nowhere = replicator(
                pool, table, dead.migration, MigrationMetrics(CollectorRegistry())
            )
            store = LegacyCategoryStore(pool, to_nowhere, cursor_codec(dead))
            started = time.monotonic()
            created = await store.create(
                CategoryCreate(slug=unique_slug("dead-port"), name="Kept"), actor="test"
            )
            assert time.monotonic() - started < 5
        assert (await store.get(created.id)).name == "Kept"
        [row] = await mine(pg, created.id)
        assert row["attempts"] == 1
        await asyncio.sleep(0.01)
        async with dynamodb_client(live) as live_client:
            table = Table.from_settings(live_client, live, observer=RecordingObserver())
            replication = replicator(
                pool, table, live.migration, MigrationMetrics(CollectorRegistry())
            )
            assert (await replication.reconcile_once()).applied >= 1
            stores = build_stores(table, cursor_codec(live))
            assert (await stores.categories.get(created.id, consistent=True)) == created
    assert await mine(pg, created.id) == []


async def test_the_background_reconciler_drains_the_outbox(
    start_app: StartApp, phase_settings: PhaseSettings, mint: TokenMint, pg: asyncpg.Connection
) -> None:
    client = await start_app(phase_settings("dual-write", migration={"reconcile_interval_s": 0.05}))
    token = await admin_token_for(client, mint)
    with app_dynamodb_failing(client, WRITES):
        category = await create_category(client, token)
        assert len(await mine(pg, category["id"])) == 1
    mirrored = dynamodb_stores(client)
    for _ in range(200):  # 10 s at most
        if not await mine(pg, category["id"]):
            break
        await asyncio.sleep(0.05)
    assert await mine(pg, category["id"]) == []
    assert (await mirrored.categories.get(category["id"], consistent=True)).id == category["id"]


@pytest.mark.subprocess  # runs `hustlehub migrate-phase reconcile` as a child process
async def test_the_reconcile_command_applies_the_outbox(
    start_app: StartApp, phase_settings: PhaseSettings, mint: TokenMint, pg: asyncpg.Connection
) -> None:
    settings = phase_settings("dual-write")
    client = await start_app(settings)
    token = await admin_token_for(client, mint)
    with app_dynamodb_failing(client, WRITES):
        category = await create_category(client, token)
    assert len(await mine(pg, category["id"])) == 1
    await asyncio.sleep(0.01)
    legacy_dsn = settings.migration.legacy_dsn
    assert legacy_dsn is not None
    env = {
        **os.environ,
        "HUSTLEHUB_MODE": "test",
        "HUSTLEHUB_DYNAMODB_ENDPOINT": settings.dynamodb_endpoint or "",
        "HUSTLEHUB_TABLE_NAME": settings.table_name,
        "HUSTLEHUB_REDIS_PREFIX": settings.redis_prefix,
        "HUSTLEHUB_MIGRATION__LEGACY_DSN": legacy_dsn.get_secret_value(),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "service",
        "migrate",
        "reconcile",
        "--concurrency",
        "3",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    assert "left: 0 pending, 0 dead" in out.decode()
    assert "(3 drainers)" in out.decode()
    assert await mine(pg, category["id"]) == []
    in_dynamodb = await dynamodb_stores(client).categories.get(category["id"], consistent=True)
    assert in_dynamodb.slug == category["slug"]


async def test_concurrent_listing_writes_leave_dynamodb_counting_what_postgres_counts(
    start_app: StartApp, phase_settings: PhaseSettings, mint: TokenMint, pg: asyncpg.Connection
) -> None:
    # Six writes each apply the category (its listing count) at once; the per-entity lock
    # makes the last to apply read the final count.
    client = await start_app(phase_settings("dual-write"))
    token = await admin_token_for(client, mint)
    category = await create_category(client, token)
    made = await asyncio.gather(*(create_listing(client, token, category["id"]) for _ in range(6)))
    counted = "select count(*) from public.listings where category_id = $1::uuid"
    assert await pg.fetchval(counted, category["id"]) == 6
    mirrored = dynamodb_stores(client)
    assert (await mirrored.categories.get(category["id"], consistent=True)).listing_count == 6
    entries = {c.id: c.listing_count for c in await mirrored.categories.list_all()}
    assert entries[category["id"]] == 6
    page = await mirrored.listings.list_by_category(category["id"], limit=10, cursor=None)
    assert sorted(item.id for item in page.items) == sorted(item["id"] for item in made)


async def test_entries_of_one_entity_applied_late_leave_its_latest_state(
    start_app: StartApp, phase_settings: PhaseSettings, mint: TokenMint, pg: asyncpg.Connection
) -> None:
    client = await start_app(phase_settings("dual-write"))
    token = await admin_token_for(client, mint)
    category = await create_category(client, token, name="v1")
    path = f"/v1/categories/{category['id']}"
    with app_dynamodb_failing(client, WRITES):
        for name in ("v2", "v3"):
            etag = (await client.get(path)).headers["ETag"]
            response = await client.patch(
                f"/v1/admin/categories/{category['id']}",
                json={"name": name},
                headers={**bearer(token), "If-Match": etag},
            )
            assert response.status == 200
    assert len(await mine(pg, category["id"])) == 2
    await asyncio.sleep(0.01)
    async with legacy_pool(client.app[SETTINGS].migration) as pool:
        # Entries name the entity, not a state: whichever applies, it writes what Postgres
        # holds when it runs, never the v2 the first entry was recorded for.
        outcome = await reconciler(client, pool, CollectorRegistry()).reconcile_once()
        assert outcome.applied >= 2
    current = await dynamodb_stores(client).categories.get(category["id"], consistent=True)
    assert (current.name, current.version) == ("v3", 3)
    assert await mine(pg, category["id"]) == []


async def test_a_listing_deleted_in_dual_write_takes_its_dynamodb_favourites(
    start_app: StartApp, phase_settings: PhaseSettings, mint: TokenMint
) -> None:
    client = await start_app(phase_settings("dual-write"))
    token = await admin_token_for(client, mint)
    category = await create_category(client, token)
    listing = await create_listing(client, token, category["id"])
    sub = f"user-{listing['id'][:8]}"
    saved = await client.put(f"/v1/me/favourites/{listing['id']}", headers=bearer(mint.token(sub)))
    assert saved.status in (200, 201), await saved.text()
    table = client.app[TABLE]
    assert await get_item(table, keys.favourite(sub, listing["id"]), consistent=True) is not None
    deleted = await client.delete(f"/v1/admin/listings/{listing['id']}", headers=bearer(token))
    assert deleted.status == 204
    assert await get_item(table, keys.favourite(sub, listing["id"]), consistent=True) is None
    assert await get_item(table, keys.listing(listing["id"]), consistent=True) is None


async def test_a_slow_dynamodb_costs_a_write_the_push_budget_only(
    start_app: StartApp, phase_settings: PhaseSettings, mint: TokenMint, pg: asyncpg.Connection
) -> None:
    client = await start_app(phase_settings("dual-write", migration={"push_timeout_s": 0.3}))
    token = await admin_token_for(client, mint)
    with app_dynamodb_slow(client, WRITES, delay_s=5.0):
        started = time.monotonic()
        category = await create_category(client, token)
        elapsed = time.monotonic() - started
    # Bounded by the 0.3 s budget, not by the 5 s DynamoDB takes (nor its call deadline).
    assert elapsed < 3.0, elapsed
    [row] = await mine(pg, category["id"])
    assert row["attempts"] == 1
    assert "push budget" in row["last_error"]


async def test_a_round_gives_up_after_three_failures_in_a_row(
    start_app: StartApp, phase_settings: PhaseSettings, mint: TokenMint, pg: asyncpg.Connection
) -> None:
    client = await start_app(phase_settings("dual-write", migration={"max_attempts": 10}))
    token = await admin_token_for(client, mint)
    registry = CollectorRegistry()
    async with legacy_pool(client.app[SETTINGS].migration) as pool:
        replication = reconciler(client, pool, registry)
        with app_dynamodb_failing(client, WRITES):
            made = [await create_category(client, token) for _ in range(5)]
            await asyncio.sleep(0.01)
            outcome = await replication.reconcile_once()
        ids = [category["id"] for category in made]
        attempts = sorted(row["attempts"] for row in await mine(pg, *ids))
        # Three tried and failed again in this round; the rest were left as they were (the
        # app's start-up round drained what earlier tests left, so these five are the queue).
        assert (outcome.applied, outcome.retried) == (0, 3)
        assert attempts == [1, 1, 2, 2, 2]
        await asyncio.sleep(0.05)
        assert (await replication.reconcile_once()).applied >= 5
    assert await mine(pg, *ids) == []
