"""Dual-read: DynamoDB answers, Postgres is compared alongside and answers when DynamoDB fails,
lacks the item, or is known to be behind."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg
from prometheus_client import CollectorRegistry

from service.cli import reconcile_command
from service.config import Settings
from service.runtime.appkeys import CACHE, SETTINGS
from service.transition.legacy.db import legacy_pool
from tests.api.factories import create_category, create_listing, unique_slug
from tests.migrate_phases.conftest import StartApp, admin_token_for
from tests.migrate_phases.support import (
    app_dynamodb_failing,
    metric,
    reconciler,
)
from tests.support.app import bearer
from tests.support.tokens import TokenMint

PhaseSettings = Callable[..., Settings]
MISMATCHES = "hustlehub_migration_shadow_mismatches_total"
COMPARISONS = "hustlehub_migration_shadow_comparisons_total"
FALLBACKS = "hustlehub_migration_dual_read_fallbacks_total"


async def test_a_divergence_seeded_in_postgres_moves_the_mismatch_counter(
    start_app: StartApp, phase_settings: PhaseSettings, mint: TokenMint, pg: asyncpg.Connection
) -> None:
    client = await start_app(phase_settings("dual-read"))
    token = await admin_token_for(client, mint)
    category = await create_category(client, token, name="Gardening")
    # Agreement first: a read compares and counts no mismatch.
    before = await metric(client, MISMATCHES, entity="category")
    compared = await metric(client, COMPARISONS, entity="category")
    assert (await client.get(f"/v1/categories/{category['id']}")).status == 200
    assert await metric(client, COMPARISONS, entity="category") >= compared + 1
    assert await metric(client, MISMATCHES, entity="category") == before

    # Postgres changed behind the service's back (no outbox row): the two now differ.
    await pg.execute(
        "update public.categories set name = 'Diverged' where id = $1::uuid", category["id"]
    )
    response = await client.get(f"/v1/categories/{category['slug']}")  # a new key: a miss
    assert response.status == 200
    assert (await response.json())["name"] == "Gardening"  # DynamoDB's answer
    assert await metric(client, MISMATCHES, entity="category") >= before + 1
    list_before = await metric(client, MISMATCHES, entity="category_list")
    assert (await client.get("/v1/categories")).status == 200
    assert await metric(client, MISMATCHES, entity="category_list") == list_before + 1


async def test_dynamodb_down_answers_from_postgres(
    start_app: StartApp, phase_settings: PhaseSettings, mint: TokenMint
) -> None:
    client = await start_app(phase_settings("dual-read"))
    token = await admin_token_for(client, mint)
    category = await create_category(client, token, name="Tutoring")
    listing = await create_listing(client, token, category["id"])
    fallbacks = await metric(client, FALLBACKS, entity="listing", reason="dynamodb_error")
    pages = await metric(client, FALLBACKS, entity="listing_page", reason="dynamodb_error")
    with app_dynamodb_failing(client, "GetItem", "Query"):
        by_id = await client.get(f"/v1/listings/{listing['id']}")
        page = await client.get(f"/v1/categories/{category['slug']}/listings")
    assert by_id.status == 200
    assert (await by_id.json())["slug"] == listing["slug"]
    assert by_id.headers["X-Cache"] == "miss"
    assert page.status == 200
    assert [item["id"] for item in (await page.json())["items"]] == [listing["id"]]
    # A uuid is slug-shaped, so the read looked it up as an id and as a slug: two answers.
    assert await metric(client, FALLBACKS, entity="listing", reason="dynamodb_error") == (
        fallbacks + 2
    )
    assert await metric(client, FALLBACKS, entity="listing_page", reason="dynamodb_error") == (
        pages + 1
    )


async def test_dynamodb_at_a_dead_port_answers_from_postgres(
    start_app: StartApp, phase_settings: PhaseSettings, pg: asyncpg.Connection
) -> None:
    slug = unique_slug("dead-port")
    await pg.execute("insert into public.categories (slug, name) values ($1, 'Only here')", slug)
    client = await start_app(
        phase_settings(
            "dual-read", dynamodb_endpoint="http://127.0.0.1:9", dynamodb_call_deadline_s=1.0
        )
    )
    response = await client.get(f"/v1/categories/{slug}")
    assert response.status == 200
    assert (await response.json())["name"] == "Only here"
    assert (await client.get("/v1/categories")).status == 200
    assert await metric(client, FALLBACKS, entity="category_list", reason="dynamodb_error") == 1


async def test_an_item_dynamodb_lacks_is_answered_from_postgres(
    start_app: StartApp, phase_settings: PhaseSettings, pg: asyncpg.Connection
) -> None:
    slug = unique_slug("not-exported")
    await pg.execute("insert into public.categories (slug, name) values ($1, 'Unexported')", slug)
    client = await start_app(phase_settings("dual-read"))
    response = await client.get(f"/v1/categories/{slug}")
    assert response.status == 200
    assert (await response.json())["name"] == "Unexported"
    assert await metric(client, FALLBACKS, entity="category", reason="missing") >= 1
    assert await metric(client, MISMATCHES, entity="category") >= 1
    assert (await client.get(f"/v1/categories/{unique_slug('nowhere')}")).status == 404


async def test_a_write_dynamodb_missed_is_read_from_postgres_until_reconciled(
    start_app: StartApp, phase_settings: PhaseSettings, mint: TokenMint
) -> None:
    client = await start_app(phase_settings("dual-read"))
    token = await admin_token_for(client, mint)
    category = await create_category(client, token, name="Before")
    path = f"/v1/categories/{category['id']}"
    first = await client.get(path)
    assert (await first.json())["name"] == "Before"
    with app_dynamodb_failing(client, "TransactWriteItems"):
        patched = await client.patch(
            f"/v1/admin/categories/{category['id']}",
            json={"name": "After"},
            headers={**bearer(token), "If-Match": first.headers["ETag"]},
        )
    assert patched.status == 200
    # DynamoDB still says "Before"; the outbox says it is behind, so Postgres answers.
    behind = await metric(client, FALLBACKS, entity="category", reason="behind")
    assert (await (await client.get(path)).json())["name"] == "After"
    assert await metric(client, FALLBACKS, entity="category", reason="behind") == behind + 1

    await asyncio.sleep(0.01)
    async with legacy_pool(client.app[SETTINGS].migration) as pool:
        replication = reconciler(client, pool, CollectorRegistry())
        await replication.reconcile_once(invalidate=client.app[CACHE].invalidate)
        backlog = await replication.outbox.backlog()
    # Reconciled: the entry was invalidated, DynamoDB answers "After" itself.
    after = await client.get(path)
    assert after.headers["X-Cache"] == "miss"
    assert (await after.json())["name"] == "After"
    assert (backlog.pending, backlog.dead) == (0, 0)
    assert await metric(client, FALLBACKS, entity="category", reason="behind") == behind + 1


async def test_a_full_resync_repairs_a_divergence_the_comparison_found(
    start_app: StartApp, phase_settings: PhaseSettings, mint: TokenMint, pg: asyncpg.Connection
) -> None:
    settings = phase_settings("dual-read")
    client = await start_app(settings)
    token = await admin_token_for(client, mint)
    category = await create_category(client, token, name="Drifted")
    await pg.execute(
        "update public.categories set name = 'Repaired' where id = $1::uuid", category["id"]
    )
    path = f"/v1/categories/{category['id']}"
    before = await metric(client, MISMATCHES, entity="category")
    assert (await (await client.get(path)).json())["name"] == "Drifted"  # DynamoDB's, cached
    assert await metric(client, MISMATCHES, entity="category") == before + 1

    # What `hustlehub migrate reconcile --all` runs, as another process would.
    drained = await reconcile_command(settings, everything=True)
    assert drained.applied >= 1
    assert (drained.left.pending, drained.left.dead) == (0, 0)
    # The command invalidated through Redis; this instance drops its copy when told.
    for _ in range(40):  # 2 s at most
        body = await (await client.get(path)).json()
        if body["name"] == "Repaired":
            break
        await asyncio.sleep(0.05)
    assert body["name"] == "Repaired"
    assert await metric(client, MISMATCHES, entity="category") == before + 1
