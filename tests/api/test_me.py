from __future__ import annotations

import uuid
from typing import Any

from aiohttp.test_utils import TestClient
from multidict import CIMultiDict

from tests.api.factories import create_category, create_listing
from tests.support.app import bearer
from tests.support.tokens import TokenMint

Client = TestClient[Any, Any]


async def test_profile_is_created_by_put_then_updated(client: Client, mint: TokenMint) -> None:
    sub = str(uuid.uuid4())
    me = bearer(mint.token(sub))
    assert (await client.get("/v1/me", headers=me)).status == 404
    created = await client.put("/v1/me", json={"displayName": "Ada"}, headers=me)
    assert created.status == 201
    again = await client.put("/v1/me", json={"displayName": "Ada L."}, headers=me)
    assert again.status == 200
    profile = await (await client.get("/v1/me", headers=me)).json()
    assert profile["sub"] == sub
    assert profile["displayName"] == "Ada L."
    assert profile["isAdmin"] is False
    assert {"email", "createdAt"} <= profile.keys()


async def test_put_me_without_a_body_creates_the_profile(client: Client, mint: TokenMint) -> None:
    response = await client.put("/v1/me", headers=bearer(mint.token()))
    assert response.status == 201


async def test_me_needs_a_valid_token(client: Client, mint: TokenMint) -> None:
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer not.a.jwt"},
                    bearer(mint.token(token_use="id")), bearer(mint.token(exp=1))):  # fmt: skip
        response = await client.get("/v1/me", headers=headers)
        assert response.status == 401
        assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
        assert "not.a.jwt" not in await response.text()


async def test_two_authorization_headers_are_refused(client: Client, mint: TokenMint) -> None:
    # Each header alone is accepted; together they are refused, whichever order they come in,
    # because a proxy and this service could each read a different one.
    valid, other = mint.token(), mint.token()
    assert (await client.get("/v1/me/favourites", headers=bearer(valid))).status == 200
    for pair in ((valid, other), (valid, valid), (valid, "not.a.jwt"), ("not.a.jwt", valid)):
        headers = CIMultiDict([("Authorization", f"Bearer {token}") for token in pair])
        response = await client.get("/v1/me/favourites", headers=headers)
        assert response.status == 401
        assert response.content_type == "application/problem+json"
        assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    refused = await client.get("/metrics")
    assert 'hustlehub_auth_failures_total{reason="duplicate_header"} 4.0' in await refused.text()


async def test_favourites_save_is_idempotent_and_listed(
    client: Client, admin_token: str, user_token: str
) -> None:
    category = await create_category(client, admin_token)
    listings = [await create_listing(client, admin_token, category["id"]) for _ in range(3)]
    me = bearer(user_token)
    first = await client.put(f"/v1/me/favourites/{listings[0]['id']}", headers=me)
    assert first.status == 201
    saved = await first.json()
    assert saved["listingId"] == listings[0]["id"]
    assert saved["listing"]["title"] == listings[0]["title"]
    again = await client.put(f"/v1/me/favourites/{listings[0]['id']}", headers=me)
    assert again.status == 200
    await client.put(f"/v1/me/favourites/{listings[1]['id']}", headers=me)
    assert (await client.get(f"/v1/me/favourites/{listings[1]['id']}", headers=me)).status == 200
    assert (await client.get(f"/v1/me/favourites/{listings[2]['id']}", headers=me)).status == 404
    ids: list[str] = []
    cursor = None
    for _ in range(5):  # bounded: two favourites at one a page
        query = "limit=1" + (f"&cursor={cursor}" if cursor else "")
        page = await (await client.get(f"/v1/me/favourites?{query}", headers=me)).json()
        ids += [item["listingId"] for item in page["items"]]
        cursor = page["nextCursor"]
        if not cursor:
            break
    assert sorted(ids) == sorted([listings[0]["id"], listings[1]["id"]])
    for _ in range(2):
        gone = await client.delete(f"/v1/me/favourites/{listings[0]['id']}", headers=me)
        assert gone.status == 204
    assert (await client.get(f"/v1/me/favourites/{listings[0]['id']}", headers=me)).status == 404


async def test_favourite_of_an_unknown_listing_is_404(client: Client, user_token: str) -> None:
    response = await client.put(
        "/v1/me/favourites/01J00000000000000000000000", headers=bearer(user_token)
    )
    assert response.status == 404


async def test_another_users_favourites_are_not_visible(
    client: Client, admin_token: str, mint: TokenMint
) -> None:
    category = await create_category(client, admin_token)
    listing = await create_listing(client, admin_token, category["id"])
    alice, bob = bearer(mint.token()), bearer(mint.token())
    await client.put(f"/v1/me/favourites/{listing['id']}", headers=alice)
    assert (await client.get(f"/v1/me/favourites/{listing['id']}", headers=bob)).status == 404
    bobs = await (await client.get("/v1/me/favourites", headers=bob)).json()
    assert bobs["items"] == []
