"""Filtered category pages: served from the category's cached collection, over HTTP.

Expected results are computed in the test from the listings as the API returned them, with
the documented semantics written out again independently (`_matches`), not hard-coded.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from aiohttp.test_utils import TestClient

from service.app import create_app
from service.appkeys import METRICS, TABLE
from service.config import Settings
from tests.api.factories import create_category, create_listing
from tests.support.app import AiohttpClient, bearer
from tests.support.faultproxy import FaultProxy, Mode

Client = TestClient[Any, Any]
Query = list[tuple[str, str]]

# Varied on purpose: cases and spaces in locations and skills, several currencies and periods,
# ranges that touch the bounds used below.
SPECS: tuple[dict[str, Any], ...] = (
    {"location": "Leeds, UK", "remote": False, "skills": ["Writing", "SEO"],
     "incomePotential": {"min": 200, "max": 900, "currency": "GBP", "period": "month"}},
    {"location": "London, UK", "remote": True, "skills": ["writing"],
     "incomePotential": {"min": 1000, "max": 3000, "currency": "GBP", "period": "month"}},
    {"location": "Remote", "remote": True, "skills": ["Python", "SQL"],
     "incomePotential": {"min": 30, "max": 80, "currency": "USD", "period": "hour"}},
    {"location": "Berlin", "remote": False, "skills": ["python", "Writing"],
     "incomePotential": {"min": 500, "max": 1500, "currency": "EUR", "period": "month"}},
    {"location": "new york", "remote": True, "skills": ["SQL"],
     "incomePotential": {"min": 2000, "max": 6000, "currency": "USD", "period": "month"}},
    {"location": "Leeds", "remote": True, "skills": [],
     "incomePotential": {"min": 0, "max": 100, "currency": "GBP", "period": "month"}},
    {"location": "", "remote": False, "skills": ["Python", "SQL", "Writing"],
     "incomePotential": {"min": 100, "max": 200, "currency": "USD", "period": "month"}},
    {"location": "  LEEDS city centre", "remote": False, "skills": ["seo"],
     "incomePotential": {"min": 900, "max": 900, "currency": "GBP", "period": "month"}},
)  # fmt: skip

QUERIES: tuple[Query, ...] = (
    [("location", "leeds")],
    [("location", "UK")],
    [("location", " New York ")],
    [("remote", "true")],
    [("remote", "false")],
    [("skills", "python")],
    [("skills", "PYTHON"), ("skills", "sql")],
    [("skills", "sql,Python")],
    [("skills", "writing"), ("skills", "seo")],
    [("skills", "writ")],  # whole skills only: matches nothing
    [("currency", "GBP")],
    [("period", "hour")],
    [("currency", "GBP"), ("period", "month"), ("incomeMin", "900")],
    [("currency", "GBP"), ("period", "month"), ("incomeMax", "200")],
    [("currency", "USD"), ("period", "month"), ("incomeMin", "150"), ("incomeMax", "250")],
    [("currency", "GBP"), ("period", "month"), ("incomeMin", "901"), ("incomeMax", "999")],
    [("location", "leeds"), ("remote", "false"), ("skills", "seo")],
    [("remote", "true"), ("currency", "USD"), ("period", "month"), ("incomeMin", "1000")],
    [("skills", "writing"), ("remote", "false"), ("location", "e")],
)


def _matches(listing: dict[str, Any], query: Query) -> bool:
    asked: dict[str, list[str]] = {}
    for name, value in query:
        asked.setdefault(name, []).append(value)
    income = listing["incomePotential"]
    if "location" in asked:
        wanted = asked["location"][0].strip().lower()
        if wanted not in listing["location"].lower():
            return False
    if "remote" in asked and listing["remote"] != (asked["remote"][0] == "true"):
        return False
    skills = {s.strip().lower() for v in asked.get("skills", []) for s in v.split(",")}
    if not skills <= {s.lower() for s in listing["skills"]}:
        return False
    for name in ("currency", "period"):
        if name in asked and income[name] != asked[name][0]:
            return False
    if "incomeMin" in asked and income["max"] < int(asked["incomeMin"][0]):
        return False
    return not ("incomeMax" in asked and income["min"] > int(asked["incomeMax"][0]))


async def _seed(client: Client, token: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A category with SPECS' listings, and every listing as its unfiltered page shows them
    (newest first)."""
    category = await create_category(client, token)
    for spec in SPECS:
        await create_listing(client, token, category["id"], **spec)
    page = await _get(client, category["slug"], [("limit", "100")])
    assert len(page["items"]) == len(SPECS)
    return category, page["items"]


def _path(ref: str, query: Query) -> str:
    return f"/v1/categories/{ref}/listings?{urlencode(query)}"


async def _get(client: Client, ref: str, query: Query) -> dict[str, Any]:
    response = await client.get(_path(ref, query))
    assert response.status == 200, (query, await response.text())
    body: dict[str, Any] = await response.json()
    return body


async def _walk(client: Client, ref: str, query: Query, limit: int) -> list[list[str]]:
    """Every page of a filtered result, as lists of ids; bounded by the seeded count."""
    pages: list[list[str]] = []
    cursor: str | None = None
    for _ in range(len(SPECS) + 2):
        extra = [("limit", str(limit))] + ([("cursor", cursor)] if cursor else [])
        page = await _get(client, ref, query + extra)
        pages.append([item["id"] for item in page["items"]])
        cursor = page["nextCursor"]
        if cursor is None:
            return pages
    raise AssertionError(f"more pages than listings for {query}")


@contextmanager
def _counting(client: Client, operation: str) -> Iterator[list[str]]:
    """The DynamoDB `operation` calls the app's own client makes (botocore's event hook)."""
    calls: list[str] = []

    def record(**_: Any) -> None:
        calls.append(operation)

    events = client.app[TABLE].client.meta.events
    events.register(f"before-call.dynamodb.{operation}", record)
    try:
        yield calls
    finally:
        events.unregister(f"before-call.dynamodb.{operation}", record)


async def test_each_filter_alone_and_combined_selects_the_matching_listings(
    client: Client, admin_token: str
) -> None:
    category, everything = await _seed(client, admin_token)
    nonempty = 0
    for query in QUERIES:
        expected = [x["id"] for x in everything if _matches(x, query)]
        for ref in (category["id"], category["slug"]):
            page = await _get(client, ref, [*query, ("limit", "100")])
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
    category, everything = await _seed(client, admin_token)
    for query in ([("remote", "true")], [("skills", "writing")], [("location", "leeds")],
                  [("currency", "GBP")]):  # fmt: skip
        expected = [x["id"] for x in everything if _matches(x, query)]
        assert len(expected) >= 3, query
        for limit in (1, 2, len(expected) - 1, len(expected)):
            pages = await _walk(client, category["slug"], query, limit)
            seen = [i for page in pages for i in page]
            assert seen == expected, (query, limit)
            assert all(0 < len(page) <= limit for page in pages), (query, limit, pages)
            assert len(pages) == -(-len(expected) // limit)  # no empty last page


async def test_an_admin_patch_changes_what_the_next_filtered_read_matches(
    client: Client, admin_token: str
) -> None:
    category, everything = await _seed(client, admin_token)
    office = next(x for x in everything if not x["remote"])
    remote = [("remote", "true")]
    python = [("skills", "Python"), ("skills", "Go")]
    before = await client.get(_path(category["slug"], remote))
    assert office["id"] not in [x["id"] for x in (await before.json())["items"]]
    assert office["id"] not in [
        x["id"] for x in (await _get(client, category["id"], python))["items"]
    ]
    again = await client.get(_path(category["slug"], remote))
    assert again.headers["X-Cache"] == "memory"

    response = await client.patch(
        f"/v1/admin/listings/{office['id']}",
        json={"remote": True, "skills": ["go", "python"], "title": "Now remote"},
        headers={**bearer(admin_token), "If-Match": f'"v{office["version"]}"'},
    )
    assert response.status == 200, await response.text()

    after = await client.get(_path(category["slug"], remote))
    assert after.headers["X-Cache"] == "miss"
    assert after.headers["ETag"] != before.headers["ETag"]
    items = (await after.json())["items"]
    assert office["id"] in [x["id"] for x in items]
    assert next(x for x in items if x["id"] == office["id"])["title"] == "Now remote"
    by_id = (await _get(client, category["id"], python))["items"]
    assert [x["id"] for x in by_id] == [office["id"]]
    gone = (await _get(client, category["slug"], [("remote", "false")]))["items"]
    assert office["id"] not in [x["id"] for x in gone]


async def test_a_new_listing_and_a_deleted_one_show_in_the_next_filtered_read(
    client: Client, admin_token: str
) -> None:
    category, _ = await _seed(client, admin_token)
    query = [("location", "leeds")]
    assert len((await _get(client, category["slug"], query))["items"]) >= 1
    added = await create_listing(client, admin_token, category["id"], location="North Leeds")
    first = (await _get(client, category["slug"], query))["items"]
    assert first[0]["id"] == added["id"]
    response = await client.delete(
        f"/v1/admin/listings/{first[1]['id']}", headers=bearer(admin_token)
    )
    assert response.status == 204
    second = (await _get(client, category["slug"], query))["items"]
    assert [x["id"] for x in second] == [x["id"] for x in first if x["id"] != first[1]["id"]]


async def test_distinct_filters_cost_no_dynamodb_query_of_their_own(
    client: Client, admin_token: str
) -> None:
    category, _ = await _seed(client, admin_token)
    ref = category["slug"]
    with _counting(client, "Query") as queries, _counting(client, "GetItem") as gets:
        await _get(client, ref, [("remote", "true")])
        loads = len(queries)
        first_gets = len(gets)
        assert loads >= 1  # the collection, read once
        for query in QUERIES:
            for limit in ("1", "3", "50"):
                page = await _get(client, ref, [*query, ("limit", limit)])
                if page["nextCursor"]:
                    await _get(
                        client, ref, [*query, ("limit", limit), ("cursor", page["nextCursor"])]
                    )
        assert len(queries) == loads, "a filter combination cost a DynamoDB query"
        assert len(gets) == first_gets
    assert len(QUERIES) * 3 > 50  # many distinct combinations, one load


async def test_filtered_pages_have_the_page_headers_etag_and_304(
    client: Client, admin_token: str
) -> None:
    category, _ = await _seed(client, admin_token)
    plain = await client.get(f"/v1/categories/{category['slug']}/listings")
    path = _path(category["slug"], [("skills", "python")])
    first = await client.get(path)
    second = await client.get(path)
    assert (first.status, second.status) == (200, 200)
    assert first.headers["X-Cache"] == "miss"
    assert second.headers["X-Cache"] == "memory"
    assert first.headers["Cache-Control"] == plain.headers["Cache-Control"]
    assert first.headers["Content-Type"].startswith("application/json")
    assert first.headers["ETag"] == second.headers["ETag"]
    assert await first.read() == await second.read()
    assert first.headers["ETag"] != plain.headers["ETag"]
    conditional = await client.get(path, headers={"If-None-Match": first.headers["ETag"]})
    assert conditional.status == 304
    assert await conditional.read() == b""
    assert conditional.headers["X-Cache"] == "memory"
    other = await client.get(
        _path(category["slug"], [("skills", "sql")]),
        headers={"If-None-Match": first.headers["ETag"]},
    )
    assert other.status == 200
    assert other.headers["X-Cache"] == "memory"  # the same collection, another filter
    # The same filter spelled otherwise is the same answer; another limit is another one.
    spelled = await client.get(_path(category["slug"], [("skills", " PYTHON ")]))
    assert spelled.headers["ETag"] == first.headers["ETag"]
    assert await spelled.read() == await first.read()
    shorter = await client.get(_path(category["slug"], [("skills", "python"), ("limit", "1")]))
    assert shorter.headers["ETag"] != first.headers["ETag"]


async def test_bad_filter_values_are_400_problems(client: Client, admin_token: str) -> None:
    category, _ = await _seed(client, admin_token)
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
    category, _ = await _seed(client, admin_token)
    other, _ = await _seed(client, admin_token)
    ref = category["slug"]
    query = [("skills", "Python"), ("skills", "sql"), ("limit", "1")]
    cursor = (await _get(client, ref, query))["nextCursor"]
    plain_cursor = (await _get(client, ref, [("limit", "1")]))["nextCursor"]
    assert cursor
    assert plain_cursor
    # The same filter written differently is the same filter: its cursor goes on.
    same = [("skills", "SQL,python"), ("limit", "2"), ("cursor", cursor)]
    assert (await client.get(_path(ref, same))).status == 200
    for wrong_ref, wrong in (
        (ref, [("skills", "python"), ("cursor", cursor)]),  # another filter
        (ref, [("skills", "python"), ("skills", "sql"), ("remote", "true"), ("cursor", cursor)]),
        (ref, [("cursor", cursor)]),  # no filter: the unfiltered page's cursors differ
        (ref, [("skills", "python"), ("skills", "sql"), ("cursor", plain_cursor)]),
        (other["slug"], [*query, ("cursor", cursor)]),  # another category
        (ref, [*query, ("cursor", cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB"))]),
    ):
        response = await client.get(_path(wrong_ref, wrong))
        assert response.status == 400, dict(parse_qsl(urlencode(wrong)))
        assert response.content_type == "application/problem+json"


@pytest.mark.parametrize("limit", ["0", "101", "x"])
async def test_filtered_pages_keep_the_limit_rules(
    client: Client, admin_token: str, limit: str
) -> None:
    category = await create_category(client, admin_token)
    response = await client.get(_path(category["id"], [("remote", "true"), ("limit", limit)]))
    assert response.status == 400


async def test_filters_see_the_newest_max_rows_listings_of_a_category(
    client: Client, admin_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from service import category_rows

    monkeypatch.setattr(category_rows, "MAX_ROWS", 3)
    category, everything = await _seed(client, admin_token)
    query = [("currency", "GBP")]
    expected = [x["id"] for x in everything[:3] if _matches(x, query)]
    assert expected != [x["id"] for x in everything if _matches(x, query)]
    assert [x["id"] for x in (await _get(client, category["slug"], query))["items"]] == expected


async def test_another_instance_reads_the_collection_from_redis_and_drops_it_on_a_write(
    aiohttp_client: AiohttpClient, settings: Settings, admin_token: str
) -> None:
    # Two instances sharing the table and Redis (the same settings, so the same prefix).
    first = await aiohttp_client(create_app(settings))
    second = await aiohttp_client(create_app(settings))
    category, everything = await _seed(first, admin_token)
    path = _path(category["slug"], [("remote", "true")])
    assert (await first.get(path)).headers["X-Cache"] == "miss"
    with _counting(second, "Query") as queries:
        shared = await second.get(path)
        assert shared.headers["X-Cache"] == "redis"
        assert (await second.get(path)).headers["X-Cache"] == "memory"
        other = await second.get(_path(category["slug"], [("skills", "sql")]))
        assert other.headers["X-Cache"] == "memory"
    assert queries == []
    office = next(x for x in everything if not x["remote"])
    response = await first.patch(
        f"/v1/admin/listings/{office['id']}",
        json={"remote": True},
        headers={**bearer(admin_token), "If-Match": f'"v{office["version"]}"'},
    )
    assert response.status == 200
    # The other instance learns of the write over Redis pub/sub (the README's bound).
    deadline = time.monotonic() + 0.5
    for _ in range(100):  # bounded in count and in time
        items = (await (await second.get(path)).json())["items"]
        if office["id"] in [x["id"] for x in items] or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.01)
    assert office["id"] in [x["id"] for x in items]


@pytest.fixture
async def dynamodb_proxy(moto_endpoint: str) -> AsyncIterator[FaultProxy]:
    upstream = urlsplit(moto_endpoint)
    async with FaultProxy(upstream.hostname or "127.0.0.1", upstream.port or 80) as proxy:
        yield proxy


async def test_while_dynamodb_is_down_any_filter_is_served_from_the_stale_collection(
    aiohttp_client: AiohttpClient,
    settings: Settings,
    admin_token: str,
    dynamodb_proxy: FaultProxy,
) -> None:
    writer = await aiohttp_client(create_app(settings))
    category, everything = await _seed(writer, admin_token)
    flaky = settings.model_copy(
        update={
            "dynamodb_endpoint": f"http://127.0.0.1:{dynamodb_proxy.port}",
            "dynamodb_call_deadline_s": 0.5,
            "cache_fresh_ttl_s": 0.2,
        }
    )
    client = await aiohttp_client(create_app(flaky))
    fresh = await client.get(_path(category["slug"], [("remote", "true")]))
    assert fresh.headers["X-Cache"] == "miss"
    await asyncio.sleep(0.4)  # past the fresh TTL: only a failing loader may use this copy
    await dynamodb_proxy.set_mode(Mode.REFUSE)
    stale = await client.get(_path(category["slug"], [("remote", "true")]))
    assert (stale.status, stale.headers["X-Cache"]) == (200, "stale")
    assert int(stale.headers["Age"]) >= 0
    assert await stale.read() == await fresh.read()
    # A filter never asked before is computed from the same stale copy.
    query = [("skills", "sql")]
    unseen = await client.get(_path(category["slug"], query))
    assert (unseen.status, unseen.headers["X-Cache"]) == (200, "stale")
    expected = [x["id"] for x in everything if _matches(x, query)]
    assert [x["id"] for x in (await unseen.json())["items"]] == expected
    await dynamodb_proxy.set_mode(Mode.FORWARD)
    recovered = await client.get(_path(category["slug"], query))
    assert (recovered.status, recovered.headers["X-Cache"]) == (200, "miss")


async def test_a_cold_stampede_of_distinct_filters_costs_one_query(
    aiohttp_client: AiohttpClient, settings: Settings, admin_token: str
) -> None:
    client = await aiohttp_client(create_app(settings))
    category, _ = await _seed(client, admin_token)
    registry = client.app[METRICS].registry

    def queries() -> float:
        value = registry.get_sample_value(
            "hustlehub_dynamodb_requests_total", {"operation": "Query", "outcome": "ok"}
        )
        return value or 0.0

    before = queries()
    paths = [
        _path(category["slug"], [("location", "e" * (1 + i % 5)), ("limit", str(1 + i % 100))])
        for i in range(200)
    ]
    responses: list[Any] = await asyncio.gather(*(client.get(p) for p in paths))
    assert [r.status for r in responses] == [200] * 200
    assert "miss" in {r.headers["X-Cache"] for r in responses}  # it was cold
    assert queries() - before == 1  # one collection: SPECS fit in one 250-listing chunk
