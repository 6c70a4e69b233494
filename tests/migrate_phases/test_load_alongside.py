"""The bulk load alongside dual-write, as the runbook orders it: link the users, export, serve
writes in dual-write, load the (now older) export, `reconcile --all --prune BATCH`, verify
against live Postgres. Deletions made after the export are brought back by the load and
removed again by the prune; rewritten items keep the load's tag, so verify passes and a
rollback of the batch would still find them."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import asyncpg
import pytest

from service.cli import reconcile_command
from service.config import Settings
from service.migrate.usermap import read_csv
from service.store import keys
from service.transition import link_users
from tests.migrate.support import cli
from tests.migrate_phases.conftest import StartApp, admin_token_for
from tests.migrate_phases.test_users_dual_write import dynamodb_item, new_sub, seed_supabase_user
from tests.support.app import bearer
from tests.support.tokens import TokenMint

# The test body runs `hustlehub migrate` as a child process, where no fixture can mark it.
pytestmark = pytest.mark.subprocess

PhaseSettings = Callable[..., Settings]
BATCH = "supabase-test"


async def seed_catalogue(pg: asyncpg.Connection) -> tuple[str, list[str]]:
    category = await pg.fetchval(
        "insert into public.categories (slug, name) values ($1, 'Crafts') returning id::text",
        f"crafts-{uuid.uuid4().hex[:8]}",
    )
    listings = [
        await pg.fetchval(
            "insert into public.listings (slug, title, category_id, income_min, income_max)"
            " values ($1, $2, $3::uuid, 10, 20) returning id::text",
            f"gig-{uuid.uuid4().hex[:8]}",
            f"Gig {n}",
            category,
        )
        for n in range(3)
    ]
    return category, listings


async def test_deletions_after_the_export_are_pruned_and_verify_passes(
    start_app: StartApp,
    phase_settings: PhaseSettings,
    mint: TokenMint,
    pg: asyncpg.Connection,
    legacy_dsn: str,
    tmp_path: Path,
) -> None:
    settings = phase_settings("dual-write")
    _, listings = await seed_catalogue(pg)
    user_id = await seed_supabase_user(pg, email="jo@example.com", name="Jo", is_admin=True)
    for listing_id in listings:
        await pg.execute(
            "insert into public.favorites (user_id, listing_id) values ($1::uuid, $2::uuid)",
            user_id,
            listing_id,
        )
    sub = new_sub()
    mapping = tmp_path / "subs.csv"
    mapping.write_text(f"supabase_id,sub\n{user_id},{sub}\n")
    assert (await link_users(settings.migration, read_csv(mapping).subs)).linked == 1
    work = str(tmp_path / "work")
    exported = cli(settings, "export", "--dsn", legacy_dsn, "--work", work)
    assert exported.returncode == 0, exported.stderr
    transformed = cli(settings, "transform", "--work", work, "--user-map", str(mapping))
    assert transformed.returncode == 0, transformed.stderr

    # Writes served after the export: an unsave, a revocation, a listing deleted (with the
    # favourite on it), a renamed profile.
    client = await start_app(settings)
    admin = bearer(await admin_token_for(client, mint))
    me = bearer(mint.token(sub))
    unsaved, deleted, kept = listings
    assert (await client.delete(f"/v1/me/favourites/{unsaved}", headers=me)).status == 204
    assert (await client.delete(f"/v1/admin/admins/{sub}", headers=admin)).status == 204
    assert (await client.delete(f"/v1/admin/listings/{deleted}", headers=admin)).status == 204
    assert (await client.put("/v1/me", json={"displayName": "Joanna"}, headers=me)).status == 200

    loaded = cli(settings, "load", "--work", work, "--batch", BATCH)
    assert loaded.returncode == 0, loaded.stderr
    # The older export put them back.
    assert await dynamodb_item(client, keys.favourite(sub, unsaved)) is not None
    assert await dynamodb_item(client, keys.admin(sub)) is not None
    assert await dynamodb_item(client, keys.listing(deleted)) is not None
    stale = cli(settings, "verify", "--work", work, "--batch", BATCH, "--dsn", legacy_dsn)
    assert stale.returncode == 1, stale.stdout

    drained = await reconcile_command(settings, everything=True, prune=BATCH, concurrency=4)
    assert (drained.left.pending, drained.left.dead) == (0, 0)
    assert await dynamodb_item(client, keys.favourite(sub, unsaved)) is None
    assert await dynamodb_item(client, keys.favourite(sub, deleted)) is None
    assert await dynamodb_item(client, keys.admin(sub)) is None
    assert await dynamodb_item(client, keys.listing(deleted)) is None
    assert await dynamodb_item(client, keys.favourite(sub, kept)) is not None
    profile = await dynamodb_item(client, keys.user(sub))
    assert profile is not None
    assert (profile["displayName"], profile["migrationBatch"]) == ("Joanna", BATCH)

    clean = cli(settings, "verify", "--work", work, "--batch", BATCH, "--dsn", legacy_dsn)
    assert clean.returncode == 0, clean.stdout
