"""Users, admin grants and favourites in dual-read: DynamoDB answers, Postgres is compared, and
Postgres answers while DynamoDB fails or has not taken a write yet (the admin check too)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import asyncpg

from service.cli import reconcile_command
from service.config import Settings
from service.runtime.appkeys import SETTINGS
from service.store import keys
from tests.migrate_phases.conftest import StartApp, admin_token_for
from tests.migrate_phases.support import app_dynamodb_failing, metric
from tests.migrate_phases.test_users_dual_write import (
    USER_WRITES,
    a_listing,
    dynamodb_item,
    new_sub,
    signed_in,
)
from tests.support.app import bearer
from tests.support.tokens import TokenMint

PhaseSettings = Callable[..., Settings]
MISMATCHES = "hustlehub_migration_shadow_mismatches_total"
COMPARISONS = "hustlehub_migration_shadow_comparisons_total"
FALLBACKS = "hustlehub_migration_dual_read_fallbacks_total"
READS = ("GetItem", "BatchGetItem", "Query")


async def test_a_profile_divergence_moves_the_mismatch_counter(
    start_app: StartApp, phase_settings: PhaseSettings, mint: TokenMint, pg: asyncpg.Connection
) -> None:
    client = await start_app(phase_settings("dual-read"))
    sub = new_sub()
    me = bearer(mint.token(sub))
    assert (await client.put("/v1/me", json={"displayName": "Gus"}, headers=me)).status == 201
    compared = await metric(client, COMPARISONS, entity="profile")
    before = await metric(client, MISMATCHES, entity="profile")
    assert (await client.get("/v1/me", headers=me)).status == 200
    assert await metric(client, COMPARISONS, entity="profile") == compared + 1
    assert await metric(client, MISMATCHES, entity="profile") == before

    # Supabase changed behind the service's back (no outbox row): the two now differ.
    await pg.execute(
        "update public.profiles set display_name = 'Diverged' where id ="
        " (select user_id from public.hustlehub_identities where sub = $1)",
        sub,
    )
    answer = await (await client.get("/v1/me", headers=me)).json()
    assert answer["displayName"] == "Gus"  # DynamoDB's
    assert await metric(client, MISMATCHES, entity="profile") == before + 1


async def test_a_revocation_dynamodb_missed_takes_effect_at_once(
    start_app: StartApp, phase_settings: PhaseSettings, mint: TokenMint
) -> None:
    client = await start_app(phase_settings("dual-read"))
    admin = bearer(await admin_token_for(client, mint))
    sub = new_sub()
    assert (await client.put(f"/v1/admin/admins/{sub}", headers=admin)).status == 204
    token = bearer(mint.token(sub))
    assert (await client.get("/v1/admin/audit", headers=token)).status == 200
    behind = await metric(client, FALLBACKS, entity="admin_grant", reason="behind")
    with app_dynamodb_failing(client, *USER_WRITES):
        assert (await client.delete(f"/v1/admin/admins/{sub}", headers=admin)).status == 204
    # DynamoDB still holds the grant; the outbox says it is behind, so Postgres decides.
    assert await dynamodb_item(client, keys.admin(sub)) is not None
    assert (await client.get("/v1/admin/audit", headers=token)).status == 403
    assert await metric(client, FALLBACKS, entity="admin_grant", reason="behind") >= behind + 1

    await reconcile_command(client.app[SETTINGS], requeue_dead=True)
    assert await dynamodb_item(client, keys.admin(sub)) is None
    assert (await client.get("/v1/admin/audit", headers=token)).status == 403


async def test_dynamodb_down_answers_users_and_favourites_from_postgres(
    start_app: StartApp, phase_settings: PhaseSettings, mint: TokenMint
) -> None:
    client = await start_app(phase_settings("dual-read"))
    listing = await a_listing(client, mint)
    _, me = signed_in(mint)
    assert (await client.put("/v1/me", json={"displayName": "Hal"}, headers=me)).status == 201
    assert (await client.put(f"/v1/me/favourites/{listing['id']}", headers=me)).status == 201
    profiles = await metric(client, FALLBACKS, entity="profile", reason="dynamodb_error")
    pages = await metric(client, FALLBACKS, entity="favourite_page", reason="dynamodb_error")
    with app_dynamodb_failing(client, *READS):
        profile = await client.get("/v1/me", headers=me)
        assert profile.status == 200
        assert (await profile.json())["displayName"] == "Hal"
        page = await client.get("/v1/me/favourites", headers=me)
        assert page.status == 200
        assert [item["listingId"] for item in (await page.json())["items"]] == [listing["id"]]
    assert await metric(client, FALLBACKS, entity="profile", reason="dynamodb_error") == (
        profiles + 1
    )
    assert await metric(client, FALLBACKS, entity="favourite_page", reason="dynamodb_error") == (
        pages + 1
    )


async def test_a_favourite_dynamodb_missed_is_read_from_postgres_until_reconciled(
    start_app: StartApp, phase_settings: PhaseSettings, mint: TokenMint
) -> None:
    client = await start_app(phase_settings("dual-read"))
    listing = await a_listing(client, mint)
    sub, me = signed_in(mint)
    with app_dynamodb_failing(client, *USER_WRITES):
        assert (await client.put(f"/v1/me/favourites/{listing['id']}", headers=me)).status == 201
    assert await dynamodb_item(client, keys.favourite(sub, listing["id"])) is None
    got = await client.get(f"/v1/me/favourites/{listing['id']}", headers=me)
    assert got.status == 200  # Postgres's answer: DynamoDB lacks it and is known to be behind
    page = await (await client.get("/v1/me/favourites", headers=me)).json()
    assert [item["listingId"] for item in page["items"]] == [listing["id"]]

    await reconcile_command(client.app[SETTINGS], requeue_dead=True)
    assert await dynamodb_item(client, keys.favourite(sub, listing["id"])) is not None
    missing = await metric(client, FALLBACKS, entity="favourite", reason="missing")
    differ = [await metric(client, MISMATCHES, entity=e) for e in ("favourite", "favourite_page")]
    other = f"/v1/me/favourites/{uuid.uuid4()}"
    assert (await client.get(other, headers=me)).status == 404  # both agree: not saved
    assert (await client.get(f"/v1/me/favourites/{listing['id']}", headers=me)).status == 200
    assert await metric(client, FALLBACKS, entity="favourite", reason="missing") == missing
    # Both stores agree field by field, the listing summary included.
    assert (await client.get("/v1/me/favourites", headers=me)).status == 200
    assert [
        await metric(client, MISMATCHES, entity=e) for e in ("favourite", "favourite_page")
    ] == differ
    compared = await metric(client, COMPARISONS, entity="favourite_page")
    assert compared >= 1
