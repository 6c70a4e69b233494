from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.api.factories import create_category, create_listing, listing_body, unique_slug
from tests.support.app import bearer
from tests.support.tokens import TokenMint

Client = TestClient[Any, Any]


async def test_create_category_answers_201_with_etag_and_location(
    client: Client, admin_token: str
) -> None:
    slug = unique_slug("crafts")
    response = await client.post(
        "/v1/admin/categories",
        json={"slug": slug, "name": "Crafts", "description": "Make things", "sortOrder": 3},
        headers=bearer(admin_token),
    )
    assert response.status == 201
    body = await response.json()
    assert body["slug"] == slug
    assert body["version"] == 1
    assert response.headers["ETag"].startswith('"v1-')
    assert response.headers["Location"] == f"/v1/categories/{body['id']}"


async def test_a_taken_slug_is_409(client: Client, admin_token: str) -> None:
    # Concurrent creates race inside DynamoDB's transaction, which moto does not serialise;
    # the one-winner property is tested at the store with commits ordered (CommitGate).
    body = {"slug": unique_slug("taken"), "name": "Once"}
    first = await client.post("/v1/admin/categories", json=body, headers=bearer(admin_token))
    second = await client.post("/v1/admin/categories", json=body, headers=bearer(admin_token))
    assert (first.status, second.status) == (201, 409)
    assert second.content_type == "application/problem+json"


async def test_invalid_fields_are_422_with_field_errors(client: Client, admin_token: str) -> None:
    response = await client.post(
        "/v1/admin/categories",
        json={"slug": "Not A Slug", "name": "", "sortOrder": -1, "extra": 1},
        headers=bearer(admin_token),
    )
    assert response.status == 422
    problem = await response.json()
    locs = {tuple(e["loc"]) for e in problem["errors"]}
    assert {("slug",), ("name",), ("sortOrder",), ("extra",)} <= locs


async def test_admin_routes_need_a_token_and_a_grant(client: Client, user_token: str) -> None:
    no_token = await client.post("/v1/admin/categories", json={"slug": "x", "name": "x"})
    assert no_token.status == 401
    assert no_token.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    no_grant = await client.post(
        "/v1/admin/categories", json={"slug": "x", "name": "x"}, headers=bearer(user_token)
    )
    assert no_grant.status == 403
    assert no_grant.content_type == "application/problem+json"


async def test_patch_needs_if_match_and_refuses_a_stale_version(
    client: Client, admin_token: str
) -> None:
    category = await create_category(client, admin_token)
    path = f"/v1/admin/categories/{category['id']}"
    missing = await client.patch(path, json={"name": "New"}, headers=bearer(admin_token))
    assert missing.status == 428
    etag = (await client.get(f"/v1/categories/{category['id']}")).headers["ETag"]
    first = await client.patch(
        path, json={"name": "New"}, headers={**bearer(admin_token), "If-Match": etag}
    )
    assert first.status == 200
    assert (await first.json())["version"] == 2
    stale = await client.patch(
        path, json={"name": "Lost"}, headers={**bearer(admin_token), "If-Match": etag}
    )
    assert stale.status == 412
    current = await (await client.get(f"/v1/categories/{category['id']}")).json()
    assert current["name"] == "New"


async def test_slug_change_to_a_taken_slug_is_409(client: Client, admin_token: str) -> None:
    first = await create_category(client, admin_token)
    second = await create_category(client, admin_token)
    response = await client.patch(
        f"/v1/admin/categories/{second['id']}",
        json={"slug": first["slug"]},
        headers={**bearer(admin_token), "If-Match": '"v1"'},
    )
    assert response.status == 409


async def test_a_category_with_listings_cannot_be_deleted(client: Client, admin_token: str) -> None:
    category = await create_category(client, admin_token)
    listing = await create_listing(client, admin_token, category["id"])
    refused = await client.delete(
        f"/v1/admin/categories/{category['id']}", headers=bearer(admin_token)
    )
    assert refused.status == 409
    gone = await client.delete(f"/v1/admin/listings/{listing['id']}", headers=bearer(admin_token))
    assert gone.status == 204
    deleted = await client.delete(
        f"/v1/admin/categories/{category['id']}", headers=bearer(admin_token)
    )
    assert deleted.status == 204
    assert (await client.get(f"/v1/categories/{category['id']}")).status == 404


async def test_a_listing_in_an_unknown_category_is_422(client: Client, admin_token: str) -> None:
    response = await client.post(
        "/v1/admin/listings",
        json=listing_body("01J0000000000000000000NONE"),
        headers=bearer(admin_token),
    )
    assert response.status == 422
    assert ["categoryId"] in [e["loc"] for e in (await response.json())["errors"]]


async def test_moving_a_listing_shows_in_both_pages_on_the_next_read(
    client: Client, admin_token: str
) -> None:
    source = await create_category(client, admin_token)
    target = await create_category(client, admin_token, name="Target")
    listing = await create_listing(client, admin_token, source["id"])
    # Warm every cached view the move must change.
    for path in (f"/v1/categories/{source['slug']}/listings",
                 f"/v1/categories/{target['slug']}/listings",
                 f"/v1/listings/{listing['slug']}", "/v1/categories"):  # fmt: skip
        assert (await client.get(path)).status == 200
    moved = await client.patch(
        f"/v1/admin/listings/{listing['id']}",
        json={"categoryId": target["id"]},
        headers={**bearer(admin_token), "If-Match": '"v1"'},
    )
    assert moved.status == 200
    old_page = await (await client.get(f"/v1/categories/{source['slug']}/listings")).json()
    new_page = await (await client.get(f"/v1/categories/{target['slug']}/listings")).json()
    assert listing["id"] not in [i["id"] for i in old_page["items"]]
    assert listing["id"] in [i["id"] for i in new_page["items"]]
    shown = await (await client.get(f"/v1/listings/{listing['slug']}")).json()
    assert (shown["categoryId"], shown["categoryName"]) == (target["id"], "Target")
    counts = {c["id"]: c["listingCount"]
              for c in (await (await client.get("/v1/categories")).json())["items"]}  # fmt: skip
    assert (counts[source["id"]], counts[target["id"]]) == (0, 1)


async def test_deleting_a_listing_takes_its_favourites(
    client: Client, admin_token: str, mint: TokenMint
) -> None:
    category = await create_category(client, admin_token)
    listing = await create_listing(client, admin_token, category["id"])
    fan = bearer(mint.token())
    assert (await client.put(f"/v1/me/favourites/{listing['id']}", headers=fan)).status == 201
    deleted = await client.delete(
        f"/v1/admin/listings/{listing['id']}", headers=bearer(admin_token)
    )
    assert deleted.status == 204
    assert (await client.get(f"/v1/me/favourites/{listing['id']}", headers=fan)).status == 404
    assert (await client.get(f"/v1/listings/{listing['id']}")).status == 404


async def test_grant_and_revoke_admin_take_effect_at_once(
    client: Client, admin_token: str, mint: TokenMint
) -> None:
    sub = unique_slug("newadmin")
    token = bearer(mint.token(sub))
    attempt = {"slug": unique_slug("by-new-admin"), "name": "By new admin"}
    assert (await client.post("/v1/admin/categories", json=attempt, headers=token)).status == 403
    granted = await client.put(f"/v1/admin/admins/{sub}", headers=bearer(admin_token))
    assert granted.status == 204
    assert (await client.post("/v1/admin/categories", json=attempt, headers=token)).status == 201
    revoked = await client.delete(f"/v1/admin/admins/{sub}", headers=bearer(admin_token))
    assert revoked.status == 204
    attempt["slug"] = unique_slug("after-revoke")
    assert (await client.post("/v1/admin/categories", json=attempt, headers=token)).status == 403


async def test_audit_lists_admin_writes_newest_first(client: Client, admin_token: str) -> None:
    category = await create_category(client, admin_token)
    await client.patch(
        f"/v1/admin/categories/{category['id']}",
        json={"description": "changed"},
        headers={**bearer(admin_token), "If-Match": '"v1"'},
    )
    response = await client.get("/v1/admin/audit?limit=20", headers=bearer(admin_token))
    assert response.status == 200
    events = [e for e in (await response.json())["items"] if e["entityId"] == category["id"]]
    assert [e["action"] for e in events] == ["update", "create"]
    assert events[0]["at"] >= events[1]["at"]
