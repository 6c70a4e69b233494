"""Users, admin grants and favourites in dual-write: Postgres (the Supabase schema) is the truth
for them as for the catalogue, every write reaches DynamoDB through the outbox, and a return
to Supabase finds every profile, grant and favourite made meanwhile."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from prometheus_client import CollectorRegistry

from service.aws.registration import create_profile
from service.cli import reconcile_command
from service.config import Settings
from service.migrate.usermap import read_csv
from service.runtime.appkeys import SETTINGS, TABLE
from service.store import keys
from service.store.codec import from_item
from service.store.common import get_item
from service.store.stores import build_stores, cursor_codec
from service.transition import link_users
from service.transition.legacy.db import legacy_pool
from tests.api.factories import create_category, create_listing
from tests.migrate_phases.conftest import Client, StartApp, admin_token_for
from tests.migrate_phases.support import (
    app_dynamodb_failing,
    outbox_rows,
    reconciler,
)
from tests.support.app import bearer
from tests.support.tokens import TokenMint

PhaseSettings = Callable[..., Settings]
# Every DynamoDB write the user and favourite mirror makes.
USER_WRITES = ("TransactWriteItems", "PutItem", "DeleteItem")


def new_sub() -> str:
    return f"user-{uuid.uuid4()}"


async def a_listing(client: Client, mint: TokenMint) -> dict[str, Any]:
    admin = await admin_token_for(client, mint)
    return await create_listing(client, admin, (await create_category(client, admin))["id"])


def signed_in(mint: TokenMint) -> tuple[str, dict[str, str]]:
    """A new user's sub, and the headers that sign it in."""
    sub = new_sub()
    return sub, bearer(mint.token(sub))


async def dynamodb_item(client: Client, key: keys.Key) -> dict[str, Any] | None:
    item = await get_item(client.app[TABLE], key, consistent=True)
    return None if item is None else from_item(item)


async def seed_supabase_user(
    pg: asyncpg.Connection, *, email: str, name: str = "Ann", is_admin: bool = False
) -> str:
    """A user as Supabase holds it before the move: auth.users, then the profile."""
    user_id = await pg.fetchval("insert into auth.users (email) values ($1) returning id", email)
    await pg.execute(
        "insert into public.profiles (id, email, display_name, is_admin) values ($1, $2, $3, $4)",
        user_id,
        email,
        name,
        is_admin,
    )
    return str(user_id)


async def pending_for(pg: asyncpg.Connection, sub: str) -> list[tuple[str, str]]:
    return [
        (row["entity"], row["entity_id"])
        for row in await outbox_rows(pg)
        if row["entity_id"].startswith(sub)
    ]


async def test_a_profile_lands_in_supabase_and_reaches_dynamodb(
    start_app: StartApp, phase_settings: PhaseSettings, mint: TokenMint, pg: asyncpg.Connection
) -> None:
    client = await start_app(phase_settings("dual-write"))
    sub = new_sub()
    me = bearer(mint.token(sub))
    created = await client.put("/v1/me", json={"displayName": "Ann"}, headers=me)
    assert created.status == 201, await created.text()
    row = await pg.fetchrow(
        "select p.display_name, u.email, p.id::text as user_id from public.hustlehub_identities i"
        " join public.profiles p on p.id = i.user_id join auth.users u on u.id = i.user_id"
        " where i.sub = $1",
        sub,
    )
    assert row is not None
    # PUT /v1/me carries no email; Supabase's auth.users needs a unique one.
    assert (row["display_name"], row["email"]) == ("Ann", f"{sub}@cognito.invalid")
    renamed = await client.put("/v1/me", json={"displayName": "Bo"}, headers=me)
    assert renamed.status == 200
    assert (await (await client.get("/v1/me", headers=me)).json())["displayName"] == "Bo"
    assert (
        await pg.fetchval(
            "select display_name from public.profiles where id = $1::uuid", row["user_id"]
        )
        == "Bo"
    )
    mirrored = await dynamodb_item(client, keys.user(sub))
    assert mirrored is not None
    assert (mirrored["displayName"], mirrored["supabaseId"]) == ("Bo", row["user_id"])
    assert await pending_for(pg, sub) == []


async def test_grants_follow_postgres_and_reach_dynamodb(
    start_app: StartApp, phase_settings: PhaseSettings, mint: TokenMint, pg: asyncpg.Connection
) -> None:
    client = await start_app(phase_settings("dual-write"))
    admin = bearer(await admin_token_for(client, mint))
    sub = new_sub()
    # A sub with no profile yet can be granted, as in DynamoDB.
    assert (await client.put(f"/v1/admin/admins/{sub}", headers=admin)).status == 204
    grant = await pg.fetchrow("select granted_by from public.hustlehub_admins where sub = $1", sub)
    assert grant is not None
    assert (await dynamodb_item(client, keys.admin(sub))) is not None
    token = bearer(mint.token(sub))
    assert (await client.get("/v1/admin/audit", headers=token)).status == 200
    made = await client.put("/v1/me", json={"displayName": "Cy"}, headers=token)
    assert made.status == 201
    assert (await made.json())["isAdmin"] is True
    is_admin = (
        "select p.is_admin from public.profiles p join public.hustlehub_identities i"
        " on i.user_id = p.id where i.sub = $1"
    )
    assert await pg.fetchval(is_admin, sub) is True  # Supabase's own flag, for a way back

    assert (await client.delete(f"/v1/admin/admins/{sub}", headers=admin)).status == 204
    assert await pg.fetchval(is_admin, sub) is False
    assert await dynamodb_item(client, keys.admin(sub)) is None
    assert (await client.get("/v1/admin/audit", headers=token)).status == 403


async def test_favourites_round_trip_through_supabase(
    start_app: StartApp, phase_settings: PhaseSettings, mint: TokenMint, pg: asyncpg.Connection
) -> None:
    client = await start_app(phase_settings("dual-write"))
    admin = await admin_token_for(client, mint)
    category = await create_category(client, admin)
    listings = [await create_listing(client, admin, category["id"]) for _ in range(3)]
    sub = new_sub()
    me = bearer(mint.token(sub))
    first = listings[0]["id"]
    assert (await client.put(f"/v1/me/favourites/{first}", headers=me)).status == 201
    assert (await client.put(f"/v1/me/favourites/{first}", headers=me)).status == 200
    for listing in listings[1:]:
        assert (await client.put(f"/v1/me/favourites/{listing['id']}", headers=me)).status == 201
    saved = await pg.fetchval(
        "select count(*) from public.favorites f join public.hustlehub_identities i"
        " on i.user_id = f.user_id where i.sub = $1",
        sub,
    )
    assert saved == 3
    # Supabase needs a profile under a favourite: the first save made an empty one.
    assert (await client.get("/v1/me", headers=me)).status == 200
    unknown = await client.put(f"/v1/me/favourites/{uuid.uuid4()}", headers=me)
    assert unknown.status == 404

    got = await client.get(f"/v1/me/favourites/{first}", headers=me)
    assert got.status == 200
    assert (await got.json())["listing"]["slug"] == listings[0]["slug"]
    page = await (await client.get("/v1/me/favourites?limit=2", headers=me)).json()
    ordered = sorted(listing["id"] for listing in listings)
    assert [item["listingId"] for item in page["items"]] == ordered[:2]
    # The legacy store's cursor carries on in the DynamoDB store (a phase switch mid-walk).
    dynamodb = build_stores(client.app[TABLE], cursor_codec(client.app[SETTINGS]))
    rest = await dynamodb.favourites.list(sub, limit=2, cursor=page["nextCursor"])
    assert [item.listing_id for item in rest.items] == ordered[2:]
    assert rest.next_cursor is None

    assert (await client.delete(f"/v1/me/favourites/{first}", headers=me)).status == 204
    assert (await client.get(f"/v1/me/favourites/{first}", headers=me)).status == 404
    assert await dynamodb_item(client, keys.favourite(sub, first)) is None
    assert await dynamodb_item(client, keys.favourite(sub, listings[1]["id"])) is not None
    assert await pending_for(pg, sub) == []


async def test_user_writes_dynamodb_missed_wait_in_the_outbox(
    start_app: StartApp, phase_settings: PhaseSettings, mint: TokenMint, pg: asyncpg.Connection
) -> None:
    client = await start_app(phase_settings("dual-write"))
    listing = await a_listing(client, mint)
    sub, me = signed_in(mint)
    with app_dynamodb_failing(client, *USER_WRITES):
        assert (await client.put("/v1/me", json={"displayName": "Di"}, headers=me)).status == 201
        saved = await client.put(f"/v1/me/favourites/{listing['id']}", headers=me)
        assert saved.status == 201
        # Read back at once, from Postgres.
        assert (await (await client.get("/v1/me", headers=me)).json())["displayName"] == "Di"
        assert (await client.get(f"/v1/me/favourites/{listing['id']}", headers=me)).status == 200
    waiting = await pending_for(pg, sub)
    assert sorted(waiting) == [("favourite", f"{sub}/{listing['id']}"), ("user", sub)]
    assert await dynamodb_item(client, keys.user(sub)) is None

    async with legacy_pool(client.app[SETTINGS].migration) as pool:
        replication = reconciler(client, pool, CollectorRegistry())
        await pg.execute(
            "update public.hustlehub_outbox set next_attempt_at = now() where entity_id like $1",
            f"{sub}%",
        )
        outcome = await replication.reconcile_once()
    assert outcome.applied >= 2
    assert await pending_for(pg, sub) == []
    profile = await dynamodb_item(client, keys.user(sub))
    assert profile is not None
    assert profile["displayName"] == "Di"
    assert await dynamodb_item(client, keys.favourite(sub, listing["id"])) is not None


async def test_linked_supabase_users_keep_their_profile_grant_and_favourites(
    start_app: StartApp,
    phase_settings: PhaseSettings,
    mint: TokenMint,
    pg: asyncpg.Connection,
    tmp_path: Path,
) -> None:
    settings = phase_settings("dual-write")
    client = await start_app(settings)
    listing = await a_listing(client, mint)
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    user_id = await seed_supabase_user(pg, email=email, name="Eve", is_admin=True)
    await pg.execute(
        "insert into public.favorites (user_id, listing_id) values ($1::uuid, $2::uuid)",
        user_id,
        listing["id"],
    )
    sub = new_sub()
    mapping = tmp_path / "usermap.csv"
    stranger = str(uuid.uuid4())
    mapping.write_text(f"supabase_id,sub\n{user_id},{sub}\n{stranger},{new_sub()}\n")
    linked = await link_users(settings.migration, read_csv(mapping).subs)
    assert (linked.linked, linked.already, linked.unknown) == (1, 0, [stranger])
    again = await link_users(settings.migration, read_csv(mapping).subs)
    assert (again.linked, again.already) == (0, 1)

    me = bearer(mint.token(sub))
    profile = await (await client.get("/v1/me", headers=me)).json()
    assert (profile["email"], profile["displayName"], profile["isAdmin"]) == (email, "Eve", True)
    assert (await client.get("/v1/admin/audit", headers=me)).status == 200
    page = await (await client.get("/v1/me/favourites", headers=me)).json()
    assert [item["listingId"] for item in page["items"]] == [listing["id"]]

    # A full resynchronisation carries them into DynamoDB as the transform would have.
    drained = await reconcile_command(settings, everything=True, concurrency=3)
    assert drained.left.pending == 0
    mirrored = await dynamodb_item(client, keys.user(sub))
    assert mirrored is not None
    assert (mirrored["email"], mirrored["supabaseId"]) == (email, user_id)
    grant = await dynamodb_item(client, keys.admin(sub))
    assert grant is not None
    assert grant["grantedBy"] == "supabase-migration"
    assert await dynamodb_item(client, keys.favourite(sub, listing["id"])) is not None


async def test_a_sign_up_claims_the_unlinked_supabase_user_with_its_email(
    phase_settings: PhaseSettings, pg: asyncpg.Connection
) -> None:
    settings = phase_settings("dual-write")
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    user_id = await seed_supabase_user(pg, email=email, name="Fay")
    sub = new_sub()
    event = {
        "triggerSource": "PostConfirmation_ConfirmSignUp",
        "request": {"userAttributes": {"sub": sub, "email": email.upper(), "name": "Other"}},
    }
    # The profile existed in Supabase: claimed, not created, and left as it was.
    assert await create_profile(event, settings) is False
    linked = await pg.fetchval(
        "select user_id::text from public.hustlehub_identities where sub = $1", sub
    )
    assert linked == user_id
    assert await create_profile(event, settings) is False  # Cognito retries: idempotent

    newcomer = new_sub()
    fresh = {**event, "request": {"userAttributes": {"sub": newcomer, "email": "new@x.io"}}}
    assert await create_profile(fresh, settings) is True
    assert (
        await pg.fetchval(
            "select u.email from public.hustlehub_identities i"
            " join auth.users u on u.id = i.user_id where i.sub = $1",
            newcomer,
        )
        == "new@x.io"
    )
    # The same email again, for another sub: its Supabase user is linked already, so the
    # newcomer gets a user of its own under a placeholder (auth.users.email is unique).
    second = new_sub()
    again = {**event, "request": {"userAttributes": {"sub": second, "email": email}}}
    assert await create_profile(again, settings) is True
    assert (
        await pg.fetchval(
            "select u.email from public.hustlehub_identities i"
            " join auth.users u on u.id = i.user_id where i.sub = $1",
            second,
        )
        == f"{second}@cognito.invalid"
    )
    for each in (sub, newcomer, second):
        assert await pending_for(pg, each) == []


async def link_users_command(dsn: str, mapping: Path) -> tuple[int, str, str]:
    env = {**os.environ, "HUSTLEHUB_MODE": "test", "HUSTLEHUB_MIGRATION__LEGACY_DSN": dsn}
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "service", "migrate", "link-users"),
        *("--user-map", str(mapping)),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.mark.subprocess  # runs `hustlehub migrate-phase link-users` as a child process
async def test_the_link_users_command_reports_what_it_refuses(
    pg: asyncpg.Connection, legacy_dsn: str, tmp_path: Path
) -> None:
    ann = await seed_supabase_user(pg, email=f"{uuid.uuid4().hex[:8]}@example.com")
    bob = await seed_supabase_user(pg, email=f"{uuid.uuid4().hex[:8]}@example.com")
    sub, stranger = new_sub(), str(uuid.uuid4())
    mapping = tmp_path / "subs.csv"
    mapping.write_text(f"supabase_id,sub\n{ann},{sub}\n{stranger},{new_sub()}\n")
    code, out, err = await link_users_command(legacy_dsn, mapping)
    assert (code, out.strip()) == (1, "identities: 1 linked, 0 already linked")
    assert f"no such Supabase user: {stranger}" in err

    # One Supabase id with two subs: the file itself is refused.
    mapping.write_text(f"supabase_id,sub\n{ann},{sub}\n{bob},{sub}x\n{bob},{sub}\n")
    assert (await link_users_command(legacy_dsn, mapping))[0] == 2
    # Run again: nothing new. Then Bob mapped to the sub Ann holds: refused, Ann's link kept.
    mapping.write_text(f"supabase_id,sub\n{ann},{sub}\n")
    other = tmp_path / "other.csv"
    other.write_text(f"supabase_id,sub\n{bob},{sub}\n")
    assert (await link_users_command(legacy_dsn, mapping))[:2] == (
        0,
        "identities: 0 linked, 1 already linked\n",
    )
    code, _, err = await link_users_command(legacy_dsn, other)
    assert code == 1
    assert f"sub or user linked otherwise: {bob}" in err
    linked = "select user_id::text from public.hustlehub_identities where sub = $1"
    assert await pg.fetchval(linked, sub) == ann

    mapping.write_text("supabase_id,sub\nabc,not/a/sub\n")
    code, _, err = await link_users_command(legacy_dsn, mapping)
    assert (code, err.strip()) == (
        2,
        f"link-users: {mapping} line 2: not a usable sub: 'not/a/sub'",
    )


async def audit_of(client: Client, token: str, entity_id: str) -> list[tuple[str, int | None]]:
    page = await (await client.get("/v1/admin/audit?limit=100", headers=bearer(token))).json()
    return [(e["action"], e["version"]) for e in page["items"] if e["entityId"] == entity_id]


async def test_admin_writes_are_audited_through_the_outbox(
    start_app: StartApp, phase_settings: PhaseSettings, mint: TokenMint, pg: asyncpg.Connection
) -> None:
    client = await start_app(phase_settings("dual-write"))
    token = await admin_token_for(client, mint)
    admin = bearer(token)
    category = await create_category(client, token)
    path = f"/v1/admin/categories/{category['id']}"
    etag = (await client.get(f"/v1/categories/{category['id']}")).headers["ETag"]
    renamed = await client.patch(
        path, json={"name": "Renamed"}, headers={**admin, "If-Match": etag}
    )
    assert renamed.status == 200
    listing = await create_listing(client, token, category["id"])
    assert (await client.delete(f"/v1/admin/listings/{listing['id']}", headers=admin)).status == 204
    sub = new_sub()
    assert (await client.put(f"/v1/admin/admins/{sub}", headers=admin)).status == 204
    assert (await client.put(f"/v1/admin/admins/{sub}", headers=admin)).status == 204  # no-op
    assert (await client.delete(f"/v1/admin/admins/{sub}", headers=admin)).status == 204
    # Newest first, as the DynamoDB stores record them; an idempotent repeat records nothing.
    assert await audit_of(client, token, category["id"]) == [("update", 2), ("create", 1)]
    assert await audit_of(client, token, listing["id"]) == [("delete", 1), ("create", 1)]
    assert await audit_of(client, token, sub) == [("revoke", None), ("grant", None)]
    kept = "select count(*) from public.hustlehub_audit where entity_id = any($1::text[])"
    assert await pg.fetchval(kept, [category["id"], listing["id"], sub]) == 6

    with app_dynamodb_failing(client, *USER_WRITES):
        late = await create_category(client, token)
    assert await audit_of(client, token, late["id"]) == []  # waiting in the outbox
    await reconcile_command(client.app[SETTINGS], requeue_dead=True)
    assert await audit_of(client, token, late["id"]) == [("create", 1)]
