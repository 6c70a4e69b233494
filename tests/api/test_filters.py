"""Filtered category pages over HTTP: what each filter selects, paging, writes, bad input,
cursors bound to their filter."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

import pytest

from tests.api.factories import create_category, create_listing
from tests.api.filtering import QUERIES, Client, get_page, matches, page_path, seed, walk
from tests.support.app import bearer


async def test_each_filter_alone_and_combined_selects_the_matching_listings(
    client: Client, admin_token: str
) -> None:
    category, everything = await seed(client, admin_token)
    nonempty = 0
    for query in QUERIES:
        expected = [x["id"] for x in everything if matches(x, query)]
        for ref in (category["id"], category["slug"]):
            page = await get_page(client, ref, [*query, ("limit", "100")])
            assert [x["id"] for x in page["items"]] == expected, query
            assert page["nextCursor"] is None
        # The items are the listings' own bodies, as the unfiltered page shows them.
        assert page["items"] == [x for x in everything if x["id"] in expected]
        nonempty += bool(expected)
    # The queries exercise both outcomes: most select something, some select nothing.
    assert len(QUERIES) - 3 <= nonempty < len(QUERIES)


async def test_paging_a_filtered_result_visits_every_match_once_in_order(
    client: Client, admin_token: str
) -> None:
    category, everything = await seed(client, admin_token)
    for query in ([("remote", "true")], [("skills", "writing")], [("location", "leeds")],
                  [("currency", "GBP")]):  # fmt: skip
        expected = [x["id"] for x in everything if matches(x, query)]
        assert len(expected) >= 3, query
        for limit in (1, 2, len(expected) - 1, len(expected)):
            pages = await walk(client, category["slug"], query, limit)
            seen = [i for page in pages for i in page]
            assert seen == expected, (query, limit)
            assert all(0 < len(page) <= limit for page in pages), (query, limit, pages)
            assert len(pages) == -(-len(expected) // limit)  # no empty last page


async def test_an_admin_patch_changes_what_the_next_filtered_read_matches(
    client: Client, admin_token: str
) -> None:
    category, everything = await seed(client, admin_token)
    office = next(x for x in everything if not x["remote"])
    remote = [("remote", "true")]
    python = [("skills", "Python"), ("skills", "Go")]
    before = await client.get(page_path(category["slug"], remote))
    assert office["id"] not in [x["id"] for x in (await before.json())["items"]]
    assert office["id"] not in [
        x["id"] for x in (await get_page(client, category["id"], python))["items"]
    ]
    again = await client.get(page_path(category["slug"], remote))
    assert again.headers["X-Cache"] == "memory"

    response = await client.patch(
        f"/v1/admin/listings/{office['id']}",
        json={"remote": True, "skills": ["go", "python"], "title": "Now remote"},
        headers={**bearer(admin_token), "If-Match": f'"v{office["version"]}"'},
    )
    assert response.status == 200, await response.text()

    after = await client.get(page_path(category["slug"], remote))
    assert after.headers["X-Cache"] == "miss"
    assert after.headers["ETag"] != before.headers["ETag"]
    items = (await after.json())["items"]
    assert office["id"] in [x["id"] for x in items]
    assert next(x for x in items if x["id"] == office["id"])["title"] == "Now remote"
    by_id = (await get_page(client, category["id"], python))["items"]
    assert [x["id"] for x in by_id] == [office["id"]]
    gone = (await get_page(client, category["slug"], [("remote", "false")]))["items"]
    assert office["id"] not in [x["id"] for x in gone]


async def test_a_new_listing_and_a_deleted_one_show_in_the_next_filtered_read(
    client: Client, admin_token: str
) -> None:
    category, _ = await seed(client, admin_token)
    query = [("location", "leeds")]
    assert len((await get_page(client, category["slug"], query))["items"]) >= 1
    added = await create_listing(client, admin_token, category["id"], location="North Leeds")
    first = (await get_page(client, category["slug"], query))["items"]
    assert first[0]["id"] == added["id"]
    response = await client.delete(
        f"/v1/admin/listings/{first[1]['id']}", headers=bearer(admin_token)
    )
    assert response.status == 204
    second = (await get_page(client, category["slug"], query))["items"]
    assert [x["id"] for x in second] == [x["id"] for x in first if x["id"] != first[1]["id"]]


async def test_bad_filter_values_are_400_problems(client: Client, admin_token: str) -> None:
    category, _ = await seed(client, admin_token)
    money = "currency=GBP&period=month&"
    for query in (
        "location=", "location=%20%20", "location=" + "a" * 121, "location=a&location=b",
        "remote=yes", "remote=TRUE", "remote=1", "remote=",
        "skills=", "skills=a,,b", "skills=" + "s" * 41,
        "&".join(f"skills=s{i}" for i in range(11)), "skills=" + ",".join("abcdefghijk"),
        "currency=usd", "currency=US", "currency=USDX", "period=fortnight", "period=",
        money + "incomeMin=-1", money + "incomeMin=abc", money + "incomeMin=100000001",
        money + "incomeMin=1e3", money + "incomeMin=" + "9" * 40, money + "incomeMax=",
        money + "incomeMin=5&incomeMax=4", "incomeMin=5", "currency=GBP&incomeMax=5",
        "period=month&incomeMin=5", money + "incomeMin=1&incomeMin=2",
    ):  # fmt: skip
        response = await client.get(f"/v1/categories/{category['slug']}/listings?{query}")
        assert response.status == 400, query
        assert response.content_type == "application/problem+json", query
        problem = await response.json()
        assert problem["status"] == 400
        assert problem["detail"], query
    # Unknown parameters are ignored, as before; a filter on an unknown category is a 404.
    ignored = await client.get(f"/v1/categories/{category['slug']}/listings?colour=blue")
    assert ignored.status == 200
    unknown = await client.get("/v1/categories/no-such-category/listings?remote=true")
    assert unknown.status == 404
    assert unknown.content_type == "application/problem+json"


async def test_a_cursor_is_bound_to_its_filter_and_category(
    client: Client, admin_token: str
) -> None:
    category, _ = await seed(client, admin_token)
    other, _ = await seed(client, admin_token)
    ref = category["slug"]
    query = [("skills", "Python"), ("skills", "sql"), ("limit", "1")]
    cursor = (await get_page(client, ref, query))["nextCursor"]
    plain_cursor = (await get_page(client, ref, [("limit", "1")]))["nextCursor"]
    assert cursor
    assert plain_cursor
    # The same filter written differently is the same filter: its cursor goes on.
    same = [("skills", "SQL,python"), ("limit", "2"), ("cursor", cursor)]
    assert (await client.get(page_path(ref, same))).status == 200
    for wrong_ref, wrong in (
        (ref, [("skills", "python"), ("cursor", cursor)]),  # another filter
        (ref, [("skills", "python"), ("skills", "sql"), ("remote", "true"), ("cursor", cursor)]),
        (ref, [("cursor", cursor)]),  # no filter: the unfiltered page's cursors differ
        (ref, [("skills", "python"), ("skills", "sql"), ("cursor", plain_cursor)]),
        (other["slug"], [*query, ("cursor", cursor)]),  # another category
        (ref, [*query, ("cursor", cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB"))]),
    ):
        response = await client.get(page_path(wrong_ref, wrong))
        assert response.status == 400, dict(parse_qsl(urlencode(wrong)))
        assert response.content_type == "application/problem+json"


@pytest.mark.parametrize("limit", ["0", "101", "x"])
async def test_filtered_pages_keep_the_limit_rules(
    client: Client, admin_token: str, limit: str
) -> None:
    category = await create_category(client, admin_token)
    response = await client.get(page_path(category["id"], [("remote", "true"), ("limit", limit)]))
    assert response.status == 400
