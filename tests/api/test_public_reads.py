from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.api.factories import create_category, create_listing

Client = TestClient[Any, Any]


async def test_categories_are_sorted_by_sort_order_then_name(
    client: Client, admin_token: str
) -> None:
    made = [
        await create_category(client, admin_token, name="Zeta", sortOrder=1),
        await create_category(client, admin_token, name="Alpha", sortOrder=2),
        await create_category(client, admin_token, name="Beta", sortOrder=1),
    ]
    response = await client.get("/v1/categories")
    assert response.status == 200
    ids = [c["id"] for c in (await response.json())["items"]]
    ours = [i for i in ids if i in {m["id"] for m in made}]
    assert ours == [made[2]["id"], made[0]["id"], made[1]["id"]]


async def test_category_by_id_and_by_slug_serve_the_same_body(
    client: Client, admin_token: str
) -> None:
    category = await create_category(client, admin_token, description="Made at home")
    by_id = await client.get(f"/v1/categories/{category['id']}")
    by_slug = await client.get(f"/v1/categories/{category['slug']}")
    assert by_id.status == by_slug.status == 200
    assert await by_id.json() == await by_slug.json() == {**category, "listingCount": 0}


async def test_a_hit_is_served_from_memory_with_the_same_etag_and_304_on_match(
    client: Client, admin_token: str
) -> None:
    category = await create_category(client, admin_token)
    path = f"/v1/categories/{category['slug']}"
    first = await client.get(path)
    second = await client.get(path)
    assert first.headers["X-Cache"] == "miss"
    assert second.headers["X-Cache"] == "memory"
    assert first.headers["ETag"] == second.headers["ETag"]
    assert await first.read() == await second.read()
    assert "max-age=" in second.headers["Cache-Control"]
    assert "public" in second.headers["Cache-Control"]
    conditional = await client.get(path, headers={"If-None-Match": first.headers["ETag"]})
    assert conditional.status == 304
    assert await conditional.read() == b""
    other = await client.get(path, headers={"If-None-Match": '"v1-0000000000000000"'})
    assert other.status == 200


async def test_unknown_refs_are_404_problems(client: Client) -> None:
    for path in (
        "/v1/categories/no-such-category",
        "/v1/listings/no-such-listing",
        "/v1/categories/no-such-category/listings",
        # Refs that could name nothing: refused before any cache fill or DynamoDB call,
        # each time (a first refusal must not leave an entry a second request could hit).
        "/v1/listings/not%20a%20slug",
        "/v1/listings/not%20a%20slug",
        "/v1/categories/bad%21ref",
        "/v1/categories/bad%21ref/listings",
        "/v1/listings/" + "a" * 81,
    ):
        response = await client.get(path)
        assert response.status == 404, path
        assert response.content_type == "application/problem+json"
        problem = await response.json()
        assert problem["status"] == 404
        assert {"type", "title", "detail"} <= problem.keys()


async def test_listing_pages_walk_every_listing_once_newest_first(
    client: Client, admin_token: str
) -> None:
    category = await create_category(client, admin_token)
    made = [await create_listing(client, admin_token, category["id"]) for _ in range(5)]
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(10):  # bounded: 5 listings at 2 a page need 3 pages
        query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        response = await client.get(f"/v1/categories/{category['slug']}/listings", params=query)
        assert response.status == 200
        page = await response.json()
        assert len(page["items"]) <= 2
        seen += [item["id"] for item in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == [m["id"] for m in reversed(made)]


async def test_listing_by_id_and_slug_carry_the_category(client: Client, admin_token: str) -> None:
    category = await create_category(client, admin_token, name="Pets")
    listing = await create_listing(client, admin_token, category["id"])
    for ref in (listing["id"], listing["slug"]):
        response = await client.get(f"/v1/listings/{ref}")
        assert response.status == 200
        body = await response.json()
        assert body["categorySlug"] == category["slug"]
        assert body["categoryName"] == "Pets"
        assert body["incomePotential"] == listing["incomePotential"]


async def test_the_first_page_is_one_entry_however_it_is_asked_for_and_a_write_drops_it(
    client: Client, admin_token: str
) -> None:
    # The handler reads a page without a query apart from one with a query: both must find
    # the one entry, and a write to the category must drop it for both.
    category = await create_category(client, admin_token)
    await create_listing(client, admin_token, category["id"])
    base = f"/v1/categories/{category['slug']}/listings"
    first = await client.get(base)
    assert first.headers["X-Cache"] == "miss"
    for path in (base, f"{base}?limit=50", f"{base}?utm_source=mail"):
        again = await client.get(path)
        assert again.headers["X-Cache"] == "memory", path
        assert again.headers["ETag"] == first.headers["ETag"], path
    added = await create_listing(client, admin_token, category["id"])
    after = await client.get(base)
    assert after.headers["X-Cache"] == "miss"
    assert added["id"] in [item["id"] for item in (await after.json())["items"]]
    assert (await client.get(f"{base}?limit=50")).headers["X-Cache"] == "memory"


async def test_bad_page_parameters_are_400(client: Client, admin_token: str) -> None:
    category = await create_category(client, admin_token)
    other = await create_category(client, admin_token)
    for _ in range(3):
        await create_listing(client, admin_token, other["id"])
    page = await (await client.get(f"/v1/categories/{other['id']}/listings?limit=1")).json()
    foreign_cursor = page["nextCursor"]
    assert foreign_cursor
    base = f"/v1/categories/{category['id']}/listings"
    for query in ("limit=0", "limit=101", "limit=abc", "limit=-1", "cursor=not-a-cursor",
                  f"cursor={foreign_cursor}", f"cursor={foreign_cursor[:-2]}xx"):  # fmt: skip
        response = await client.get(f"{base}?{query}")
        assert response.status == 400, query
        assert response.content_type == "application/problem+json"


async def test_every_read_a_cache_loader_makes_is_strongly_consistent(
    client: Client, admin_token: str
) -> None:
    from service.runtime.appkeys import TABLE

    category = await create_category(client, admin_token)
    listing = await create_listing(client, admin_token, category["id"])
    seen: list[tuple[str, dict[str, Any]]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        seen.append((model.name, params))

    events = client.app[TABLE].client.meta.events
    events.register("provide-client-params.dynamodb.*", record)
    paths = [
        "/v1/categories",
        f"/v1/categories/{category['slug']}",
        f"/v1/categories/{category['id']}/listings",
        f"/v1/listings/{listing['slug']}",
        f"/v1/listings/{listing['id']}",
    ]
    try:
        for path in paths:
            assert (await client.get(path)).status == 200
    finally:
        events.unregister("provide-client-params.dynamodb.*", record)
    reads = [(op, p) for op, p in seen if op in {"GetItem", "Query", "BatchGetItem"}]
    assert {op for op, _ in reads} >= {"GetItem", "Query"}
    for operation, params in reads:
        assert params.get("ConsistentRead") is True, (operation, params)
        assert "IndexName" not in params, (operation, params)


async def test_a_slug_is_looked_up_as_an_id_and_as_a_slug_at_once(
    client: Client, admin_token: str
) -> None:
    from service.runtime.appkeys import TABLE

    category = await create_category(client, admin_token)
    steps: list[str] = []

    def before(**_: Any) -> None:
        steps.append("sent")

    def after(**_: Any) -> None:
        steps.append("answered")

    events = client.app[TABLE].client.meta.events
    events.register("before-call.dynamodb.GetItem", before)
    events.register("after-call.dynamodb.GetItem", after)
    try:
        response = await client.get(f"/v1/categories/{category['slug']}")
    finally:
        events.unregister("before-call.dynamodb.GetItem", before)
        events.unregister("after-call.dynamodb.GetItem", after)
    assert response.status == 200
    assert (await response.json())["id"] == category["id"]
    # The id lookup (a miss) and the slug mapping are in flight together; the entity follows
    # the mapping (one after the other, the second lookup would wait for the first's answer).
    assert steps[:2] == ["sent", "sent"]
    assert steps.count("sent") == steps.count("answered") == 3
