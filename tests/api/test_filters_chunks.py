"""Filtered pages of a category larger than a chunk (service.catalog.category_rows): exact
results across chunk boundaries, short pages of a sparse filter, every chunk dropped by a
write, a bounded cost per miss, cursors that move with the rows they point between."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from service.catalog.category_rows import CHUNK_ROWS, MAX_SCAN_CHUNKS, encode_cursor
from service.catalog.listing_filter import ListingFilter
from service.models.listing import IncomePotential, Listing
from service.runtime.appkeys import STORES, TABLE
from service.store.batch import batch_write, put_request
from service.store.common import slug_item
from service.store.copies import listing_copy_item
from service.store.listings import listing_item
from tests.api.factories import create_category, create_listing
from tests.api.filtering import Client, Query, counting, get_page, page_path
from tests.support.app import bearer

SIZE = 1_200  # five chunks: more than one request scans
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
_LOCATIONS = ("Leeds, UK", "York, UK", "Hull, UK")
_SKILLS = ("writing", "design", "tutoring", "bookkeeping")
# A sparse filter: three matches, in the first, the third and the last chunk (newest first).
_RARE = {SIZE - 3, 700, 5}


def _listing(category: dict[str, Any], n: int) -> Listing:
    at = _EPOCH + timedelta(minutes=n)
    return Listing(
        id=f"01JCHNKS{n:018d}",
        slug=f"chunk-{n}",
        title=f"Listing {n}",
        summary="Part-time work.",
        description="A few hours a week.",
        category_id=category["id"],
        category_slug=category["slug"],
        category_name=category["name"],
        location="Whitby, UK" if n in _RARE else _LOCATIONS[n % 3],
        remote=n % 3 == 0,
        skills=[_SKILLS[n % 4]],
        income_potential=IncomePotential(min=100, max=900, currency="GBP"),
        version=1,
        created_at=at,
        updated_at=at,
    )


async def _seed(client: Client, token: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A category of SIZE listings written straight to the table, as the store writes them
    (the API would take minutes), and every listing as the unfiltered pages show them,
    newest first."""
    category = await create_category(client, token)
    requests = []
    for n in range(SIZE):
        listing = _listing(category, n)
        requests += [
            put_request(listing_copy_item(listing, category["version"])),
            put_request(listing_item(listing, category["version"])),
            put_request(slug_item("LISTING", listing.slug, listing.id)),
        ]
    await batch_write(client.app[TABLE], requests)
    return category, await _everything(client, category["id"])


async def _everything(client: Client, ref: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(SIZE // 100 + 3):
        query = [("limit", "100")] + ([("cursor", cursor)] if cursor else [])
        response = await client.get(f"/v1/categories/{ref}/listings?{urlencode(query)}")
        page = await response.json()
        items += page["items"]
        cursor = page["nextCursor"]
        if cursor is None:
            return items
    raise AssertionError("more pages than listings")


async def _walk(
    client: Client, ref: str, query: Query, limit: int
) -> list[tuple[list[str], str | None]]:
    """Every page of a filtered result: its ids and its cursor; bounded by the chunks."""
    pages: list[tuple[list[str], str | None]] = []
    cursor: str | None = None
    for _ in range(SIZE + 2):
        extra = [("limit", str(limit))] + ([("cursor", cursor)] if cursor else [])
        page = await get_page(client, ref, query + extra)
        cursor = page["nextCursor"]
        pages.append(([item["id"] for item in page["items"]], cursor))
        if cursor is None:
            return pages
    raise AssertionError(f"more pages than listings for {query}")


def _ids(pages: list[tuple[list[str], str | None]]) -> list[str]:
    return [listing_id for ids, _ in pages for listing_id in ids]


def _expected(everything: list[dict[str, Any]], test: Any) -> list[str]:
    return [x["id"] for x in everything if test(x)]


async def test_filtered_pages_across_chunks_are_exactly_the_matches_in_order(
    client: Client, admin_token: str
) -> None:
    category, everything = await _seed(client, admin_token)
    assert len(everything) == SIZE
    cases: list[tuple[Query, Any]] = [
        ([("remote", "true")], lambda x: x["remote"]),
        ([("skills", "design")], lambda x: x["skills"] == ["design"]),
        ([("location", "york"), ("remote", "false")],
         lambda x: "York" in x["location"] and not x["remote"]),
        ([("currency", "GBP")], lambda _: True),  # every listing: the cap is gone
    ]  # fmt: skip
    for query, test in cases:
        expected = _expected(everything, test)
        for limit in (100, 7):
            seen = _ids(await _walk(client, category["id"], query, limit))
            assert seen == expected, (query, limit)
            assert len(set(seen)) == len(seen)
    assert len(_expected(everything, lambda _: True)) > 4 * CHUNK_ROWS


async def test_a_sparse_filter_pages_through_short_pages_and_finds_every_match(
    client: Client, admin_token: str
) -> None:
    category, everything = await _seed(client, admin_token)
    query = [("location", "whitby")]
    expected = _expected(everything, lambda x: "Whitby" in x["location"])
    assert len(expected) == 3
    pages = await _walk(client, category["slug"], query, 50)
    assert _ids(pages) == expected
    # Chunks 0-3 hold the first two matches; the fifth chunk is the next request's.
    assert SIZE > MAX_SCAN_CHUNKS * CHUNK_ROWS
    assert pages[0][0] == expected[:2]
    assert pages[0][1] is not None
    assert pages[-1][1] is None
    # A filter that matches nothing still ends: empty pages, each scanning its chunks.
    nothing = await _walk(client, category["slug"], [("skills", "juggling")], 50)
    assert _ids(nothing) == []
    assert len(nothing) == 2


async def test_a_first_filtered_page_miss_reads_one_chunk_not_the_category(
    client: Client, admin_token: str
) -> None:
    category, _ = await _seed(client, admin_token)
    ref = category["id"]
    with counting(client, "Query") as queries, counting(client, "GetItem") as gets:
        page = await get_page(client, ref, [("remote", "true"), ("limit", "50")])
    assert len(page["items"]) == 50
    assert (len(queries), len(gets)) == (1, 1)  # one chunk, the category
    with counting(client, "Query") as queries, counting(client, "GetItem") as gets:
        again = await client.get(page_path(ref, [("remote", "true"), ("limit", "50")]))
        assert again.headers["X-Cache"] in {"memory", "redis"}
        sparse = await get_page(client, ref, [("location", "whitby")])
    assert len(sparse["items"]) == 2
    assert len(queries) == MAX_SCAN_CHUNKS - 1  # chunk 0 was cached: chunks 1-3
    assert gets == []


async def test_an_admin_write_is_seen_by_the_next_filtered_read_in_every_chunk(
    client: Client, admin_token: str
) -> None:
    category, everything = await _seed(client, admin_token)
    other = await create_category(client, admin_token)
    ref = category["slug"]
    query = [("remote", "true")]
    assert _ids(await _walk(client, ref, query, 100)) == _expected(
        everything, lambda x: x["remote"]
    )
    deep = everything[-2]  # the fifth chunk's
    assert not deep["remote"]
    response = await client.patch(
        f"/v1/admin/listings/{deep['id']}",
        json={"remote": True},
        headers={**bearer(admin_token), "If-Match": f'"v{deep["version"]}"'},
    )
    assert response.status == 200, await response.text()
    added = await create_listing(client, admin_token, category["id"], remote=True)
    gone = next(x for x in everything[600:] if x["remote"])
    response = await client.delete(f"/v1/admin/listings/{gone['id']}", headers=bearer(admin_token))
    assert response.status == 204
    moved = next(x for x in everything[300:] if x["remote"])
    response = await client.patch(
        f"/v1/admin/listings/{moved['id']}",
        json={"categoryId": other["id"]},
        headers={**bearer(admin_token), "If-Match": f'"v{moved["version"]}"'},
    )
    assert response.status == 200, await response.text()

    seen = _ids(await _walk(client, ref, query, 100))
    expected = [added["id"]] + [
        x["id"]
        for x in everything
        if (x["remote"] or x["id"] == deep["id"]) and x["id"] not in {gone["id"], moved["id"]}
    ]
    assert seen == expected
    assert [x["id"] for x in (await get_page(client, other["id"], query))["items"]] == [moved["id"]]


async def test_a_cursor_goes_on_exactly_after_rows_moved_between_chunks(
    client: Client, admin_token: str
) -> None:
    category, everything = await _seed(client, admin_token)
    ref = category["id"]
    query = [("skills", "tutoring")]
    expected = _expected(everything, lambda x: x["skills"] == ["tutoring"])
    first = await get_page(client, ref, [*query, ("limit", "100")])  # ends in chunk 1
    second = await get_page(
        client, ref, [*query, ("limit", "100"), ("cursor", first["nextCursor"])]
    )
    # Newer listings push every row a few positions down, a deletion pulls them up: the
    # cursors' chunk hints are now off, and each must still continue right after its row.
    for _ in range(7):
        await create_listing(client, admin_token, category["id"], skills=["tutoring"])
    for victim in everything[10:13]:
        response = await client.delete(
            f"/v1/admin/listings/{victim['id']}", headers=bearer(admin_token)
        )
        assert response.status == 204
    for page, done in ((first, 100), (second, 200)):
        rest: list[str] = []
        cursor = page["nextCursor"]
        for _ in range(SIZE):
            more = await get_page(client, ref, [*query, ("limit", "100"), ("cursor", cursor)])
            rest += [x["id"] for x in more["items"]]
            cursor = more["nextCursor"]
            if cursor is None:
                break
        assert rest == [x for x in expected[done:] if x not in {v["id"] for v in everything[10:13]}]


async def test_edited_cursors_are_400_problems(client: Client, admin_token: str) -> None:
    category, _ = await _seed(client, admin_token)
    ref = category["id"]
    query = [("location", "whitby")]
    cursor = (await get_page(client, ref, query))["nextCursor"]
    body, mac = cursor.split(".")
    payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    assert b'"k":' in payload  # the chunk hint travels signed with the position
    hinted = base64.urlsafe_b64encode(payload.replace(b'"k":', b'"k":1')).rstrip(b"=").decode()
    for edited in (f"{hinted}.{mac}", cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB"), "x"):
        response = await client.get(page_path(ref, [*query, ("cursor", edited)]))
        assert response.status == 400
        assert response.content_type == "application/problem+json"


async def test_a_cursor_whose_chunk_hint_is_off_still_goes_on_exactly_after_its_row(
    client: Client, admin_token: str
) -> None:
    category, everything = await _seed(client, admin_token)
    ref = category["id"]
    query = [("remote", "true"), ("limit", "20")]
    expected = _expected(everything, lambda x: x["remote"])
    after = expected[299]  # in the fourth chunk (rows 750-999)
    row = next(x for x in everything if x["id"] == after)
    position = f"{_sort_time(row['createdAt'])}#{after}"
    codec = client.app[STORES].cursors
    wanted = ListingFilter(remote=True)
    answers = []
    # The right chunk, neighbours, one too far back for the chain, one past the end.
    for hint in (3, 2, 4, 0, 900):
        cursor = encode_cursor(codec, category["id"], wanted, position, hint)
        page = await get_page(client, ref, [*query, ("cursor", cursor)])
        answers.append([x["id"] for x in page["items"]])
    assert answers == [expected[300:320]] * 5


def _sort_time(created_at: str) -> str:
    return datetime.fromisoformat(created_at).astimezone(UTC).isoformat(timespec="microseconds")
