"""The legacy repositories keep the API's write contract: 409 for a taken slug or a category
that still has listings, 412 for a stale If-Match, 422 for an unknown category, null clearing
a link, a listing moved between categories counted in both (in Postgres and in DynamoDB); a
chunk of a category (what filtered pages read) is the same listings from either."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from service.catalog.category_rows import sort_key
from service.config import MigrationPhase, Settings
from service.runtime.appkeys import SETTINGS, STORES, TABLE
from service.store.stores import build_stores, cursor_codec
from tests.api.factories import create_category, create_listing, listing_body, unique_slug
from tests.migrate_phases.conftest import Client, StartApp, admin_token_for
from tests.support.app import bearer
from tests.support.tokens import TokenMint

PhaseSettings = Callable[..., Settings]
LEGACY_PHASES: tuple[MigrationPhase, ...] = ("dual-write", "dual-read")


async def etag_of(client: Client, path: str) -> str:
    return (await client.get(path)).headers["ETag"]


@pytest.mark.parametrize("phase", LEGACY_PHASES)
async def test_write_errors_are_the_same_as_on_dynamodb(
    start_app: StartApp, phase_settings: PhaseSettings, mint: TokenMint, phase: MigrationPhase
) -> None:
    client = await start_app(phase_settings(phase))
    token = await admin_token_for(client, mint)
    auth = bearer(token)
    category = await create_category(client, token)
    taken = await client.post(
        "/v1/admin/categories", json={"slug": category["slug"], "name": "Again"}, headers=auth
    )
    assert taken.status == 409
    assert taken.content_type == "application/problem+json"

    path = f"/v1/categories/{category['id']}"
    etag = await etag_of(client, path)
    admin_path = f"/v1/admin/categories/{category['id']}"
    first = await client.patch(admin_path, json={"name": "A"}, headers={**auth, "If-Match": etag})
    assert first.status == 200
    stale = await client.patch(admin_path, json={"name": "B"}, headers={**auth, "If-Match": etag})
    assert stale.status == 412
    assert (await client.patch(admin_path, json={"name": "C"}, headers=auth)).status == 428

    unknown = await client.post(
        "/v1/admin/listings", json=listing_body(unique_slug("nope")), headers=auth
    )
    assert unknown.status == 422
    assert [tuple(e["loc"]) for e in (await unknown.json())["errors"]] == [("categoryId",)]

    listing = await create_listing(
        client, token, category["id"], url="https://example.com/gig", imageUrl=None
    )
    assert (await client.delete(admin_path, headers=auth)).status == 409
    at = f"/v1/listings/{listing['id']}"
    cleared = await client.patch(
        f"/v1/admin/listings/{listing['id']}",
        json={"url": None},
        headers={**auth, "If-Match": await etag_of(client, at)},
    )
    assert cleared.status == 200
    assert (await (await client.get(at)).json())["url"] is None
    missing = await client.delete(f"/v1/admin/listings/{unique_slug('gone')}", headers=auth)
    assert missing.status == 404


@pytest.mark.parametrize("phase", LEGACY_PHASES)
async def test_a_listing_moved_between_categories_is_counted_in_both(
    start_app: StartApp, phase_settings: PhaseSettings, mint: TokenMint, phase: MigrationPhase
) -> None:
    client = await start_app(phase_settings(phase))
    token = await admin_token_for(client, mint)
    source = await create_category(client, token)
    target = await create_category(client, token)
    listing = await create_listing(client, token, source["id"])
    at = f"/v1/listings/{listing['id']}"
    moved = await client.patch(
        f"/v1/admin/listings/{listing['id']}",
        json={"categoryId": target["id"]},
        headers={**bearer(token), "If-Match": await etag_of(client, at)},
    )
    assert moved.status == 200
    assert (await moved.json())["categorySlug"] == target["slug"]
    counts = {
        c["id"]: c["listingCount"]
        for c in (await (await client.get("/v1/categories")).json())["items"]
    }
    assert (counts[source["id"]], counts[target["id"]]) == (0, 1)
    pages = [
        [
            i["id"]
            for i in (await (await client.get(f"/v1/categories/{c}/listings")).json())["items"]
        ]
        for c in (source["id"], target["id"])
    ]
    assert pages == [[], [listing["id"]]]
    dynamodb = build_stores(client.app[TABLE], cursor_codec(client.app[SETTINGS]))
    in_dynamodb = {c.id: c.listing_count for c in await dynamodb.categories.list_all()}
    assert (in_dynamodb[source["id"]], in_dynamodb[target["id"]]) == (0, 1)
    old_page = await dynamodb.listings.list_by_category(source["id"], limit=10, cursor=None)
    new_page = await dynamodb.listings.list_by_category(target["id"], limit=10, cursor=None)
    assert (old_page.items, [i.id for i in new_page.items]) == ([], [listing["id"]])


@pytest.mark.parametrize("phase", LEGACY_PHASES)
async def test_a_tampered_or_foreign_cursor_is_400(
    start_app: StartApp, phase_settings: PhaseSettings, mint: TokenMint, phase: MigrationPhase
) -> None:
    client = await start_app(phase_settings(phase))
    token = await admin_token_for(client, mint)
    one, other = await create_category(client, token), await create_category(client, token)
    for category in (one, other):
        for _ in range(2):
            await create_listing(client, token, category["id"])
    page = await (await client.get(f"/v1/categories/{one['id']}/listings?limit=1")).json()
    cursor = page["nextCursor"]
    foreign = await client.get(f"/v1/categories/{other['id']}/listings?limit=1&cursor={cursor}")
    assert foreign.status == 400
    tampered = await client.get(
        f"/v1/categories/{one['id']}/listings?limit=1&cursor={cursor[:-2]}xx"
    )
    assert tampered.status == 400
    assert tampered.content_type == "application/problem+json"


Answer = tuple[int, str, dict[str, object] | None]


async def user_answers(client: Client, mint: TokenMint, listing_id: str) -> list[Answer]:
    """What a user's routes answer, in order: statuses, and bodies where they matter."""
    me = bearer(mint.token(f"contract-{uuid.uuid4()}"))
    saved = f"/v1/me/favourites/{listing_id}"
    calls = [
        client.get("/v1/me", headers=me),  # no profile yet
        client.put("/v1/me", json={"displayName": ""}, headers=me),  # refused: 422
        client.put("/v1/me", data=b"{", headers={**me, "Content-Type": "application/json"}),
        client.put("/v1/me", json={"displayName": "Ivy"}, headers=me),
        client.put("/v1/me", headers=me),  # no body: untouched
        client.get(f"/v1/me/favourites/{listing_id}", headers=me),
        client.put(f"/v1/me/favourites/{uuid.uuid4()}", headers=me),  # unknown listing
        client.put("/v1/me/favourites/01J00000000000000000000000", headers=me),  # a ULID
        client.put(saved, headers=me),
        client.put(saved, headers=me),
        client.get("/v1/me/favourites?limit=0", headers=me),
        client.get("/v1/me/favourites?cursor=forged", headers=me),
        client.delete(saved, headers=me),
        client.delete(saved, headers=me),
        client.delete(f"/v1/me/favourites/{uuid.uuid4()}", headers=me),
        client.get(saved, headers=me),
    ]
    answers: list[Answer] = []
    for call in calls:
        response = await call
        body = await response.json() if response.status != 204 else None
        shown = {k: body[k] for k in ("displayName", "isAdmin") if k in body} if body else None
        answers.append((response.status, response.content_type, shown))
    return answers


async def test_user_routes_answer_as_on_dynamodb(
    start_app: StartApp, phase_settings: PhaseSettings, mint: TokenMint
) -> None:
    answers: dict[str, list[Answer]] = {}
    for phase in ("dynamodb-only", *LEGACY_PHASES):
        client = await start_app(phase_settings(phase))
        token = await admin_token_for(client, mint)
        listing = await create_listing(client, token, (await create_category(client, token))["id"])
        answers[phase] = await user_answers(client, mint, listing["id"])
    assert answers["dual-write"] == answers["dynamodb-only"]
    assert answers["dual-read"] == answers["dynamodb-only"]
    statuses = [status for status, _, _ in answers["dynamodb-only"]]
    assert statuses == [
        404,
        422,
        400,
        201,
        200,
        404,
        404,
        404,
        201,
        200,
        400,
        400,
        204,
        204,
        204,
        404,
    ]


async def test_a_chunk_of_a_category_is_the_same_from_postgres_as_from_dynamodb(
    start_app: StartApp, phase_settings: PhaseSettings, mint: TokenMint
) -> None:
    # In dual-write the service's listings are Postgres's; the filtered pages read chunks.
    client = await start_app(phase_settings("dual-write"))
    token = await admin_token_for(client, mint)
    category = await create_category(client, token)
    for _ in range(4):
        await create_listing(client, token, category["id"])
    legacy = client.app[STORES].listings
    dynamodb = build_stores(client.app[TABLE], cursor_codec(client.app[SETTINGS])).listings
    first = await legacy.chunk_in_category(category["id"], older_than=None, limit=2)
    assert [x.id for x in first] == [
        x.id for x in await dynamodb.chunk_in_category(category["id"], older_than=None, limit=2)
    ]
    assert len(first) == 3  # one more than asked: more follow
    after = sort_key(first[1])
    rest = await legacy.chunk_in_category(category["id"], older_than=after, limit=10)
    assert [x.id for x in rest] == [
        x.id for x in await dynamodb.chunk_in_category(category["id"], older_than=after, limit=10)
    ]
    assert [x.id for x in rest] == [first[2].id, rest[1].id]
    assert len(rest) == 2
