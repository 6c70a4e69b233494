"""Migrated data served by the real app over HTTP: legacy UUIDs work as ids in every route,
list pages read the migrated copies, signed-in users see their profile, admin grant and
favourites under their Cognito sub."""

from __future__ import annotations

import uuid
from pathlib import Path

import asyncpg
import pytest

from service.app import create_app
from service.config import Settings
from service.dev.seed.supabase import Scale
from service.migrate.export import PostgresSource
from service.migrate.load import load
from service.migrate.workdir import WorkDir, write_items
from service.store.table import Table
from tests.migrate.support import fill, mapping, sub_for
from tests.support.app import AiohttpClient, bearer, make_settings
from tests.support.tokens import TokenMint

pytestmark = pytest.mark.asyncio(loop_scope="session")
SCALE = Scale(users=40, listings=30, categories=3, favourites=120, seed=41)


@pytest.mark.redis  # the app it starts caches in the machine's Redis
async def test_the_service_serves_what_was_migrated(
    pg: asyncpg.Connection, work: Path, table: Table, migrate_settings: Settings,
    aiohttp_client: AiohttpClient, mint: TokenMint, moto_endpoint: str,
) -> None:  # fmt: skip
    await fill(pg, SCALE)
    work.mkdir(parents=True)  # noqa: ASYNC240
    manifest = await write_items(PostgresSource(pg), await mapping(pg), WorkDir(work))
    await load(
        table, WorkDir(work), manifest, batch=f"served-{uuid.uuid4().hex[:6]}", progress=False
    )
    client = await aiohttp_client(
        create_app(make_settings(moto_endpoint, migrate_settings.table_name, mint))
    )

    category = await pg.fetchrow(
        "select c.id::text as id, c.slug, count(l.id) as n from public.categories c "
        "join public.listings l on l.category_id = c.id group by c.id order by n desc limit 1"
    )
    assert category is not None
    listed = await client.get("/v1/categories")
    assert listed.status == 200
    by_id = {c["id"]: c for c in (await listed.json())["items"]}
    assert by_id[category["id"]]["listingCount"] == category["n"]
    page = await client.get(f"/v1/categories/{category['id']}/listings", params={"limit": "100"})
    assert page.status == 200
    body = await page.json()
    expected = await pg.fetch(
        "select id::text as id from public.listings where category_id = $1::uuid "
        "order by created_at desc", category["id"],
    )  # fmt: skip
    assert [item["id"] for item in body["items"]] == [r["id"] for r in expected]
    assert {item["categorySlug"] for item in body["items"]} == {category["slug"]}

    listing = await pg.fetchrow("select id::text as id, slug, title from public.listings limit 1")
    assert listing is not None
    for ref in (listing["id"], listing["slug"]):
        got = await client.get(f"/v1/listings/{ref}")
        assert got.status == 200
        assert (await got.json())["title"] == listing["title"]

    admin = await pg.fetchrow(
        "select id::text as id, display_name from public.profiles where is_admin limit 1"
    )
    assert admin is not None
    token = mint.token(sub_for(admin["id"]))
    me = await client.get("/v1/me", headers=bearer(token))
    assert me.status == 200
    assert (await me.json())["isAdmin"] is True
    assert (await me.json())["displayName"] == admin["display_name"]
    saved = await client.get("/v1/me/favourites", headers=bearer(token), params={"limit": "100"})
    assert saved.status == 200
    favourites = await pg.fetch(
        "select listing_id::text as id from public.favorites where user_id = $1::uuid",
        admin["id"],
    )
    assert sorted(f["listingId"] for f in (await saved.json())["items"]) == sorted(
        r["id"] for r in favourites
    )
    assert len(favourites) == 3
    audit = await client.get("/v1/admin/audit", headers=bearer(token))
    assert audit.status == 200  # the migrated grant authorises admin routes
