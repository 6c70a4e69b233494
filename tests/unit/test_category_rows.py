"""The in-process side of filtered pages: the collection's bytes, its paging, its memo."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from cache.entry import Entry
from service.catalog import render
from service.catalog.category_rows import MEMO_MAX_BYTES, CategoryRows, RowsMemo
from service.catalog.listing_filter import ListingFilter
from service.models.listing import IncomePotential, Listing

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def _listing(index: int, *, micros: bool = False) -> Listing:
    # Some timestamps with microseconds, some without: pydantic writes them with different
    # widths, so the wire form must not be what orders the rows.
    at = EPOCH + timedelta(minutes=index, microseconds=7 if micros else 0)
    return Listing(
        id=f"l-{index:04d}", slug=f"l-{index:04d}", title=f"Listing {index}",
        category_id="c-1", category_slug="c-one", category_name="One",
        location="Leeds" if index % 3 == 0 else "York", remote=index % 2 == 0,
        skills=["Python"] if index % 4 == 0 else ["sql"],
        income_potential=IncomePotential(min=index, max=index * 10),
        version=1, created_at=at, updated_at=at,
    )  # fmt: skip


def _encode(category_id: str, listings: list[Listing], *, truncated: bool) -> bytes:
    return CategoryRows.build(category_id, listings, truncated=truncated).encode()


def _entry(body: bytes) -> Entry:
    return Entry.build(body, status=200, now=time.time(), ttl=60)


def test_a_page_from_the_collection_is_byte_for_byte_the_rendered_page() -> None:
    listings = [_listing(i, micros=i % 2 == 1) for i in range(12)]
    rows = CategoryRows.decode(_encode("c-1", listings, truncated=False))
    newest_first = sorted(listings, key=lambda x: x.created_at, reverse=True)
    assert [row.sort_key.split("#")[1] for row in rows.rows] == [x.id for x in newest_first]
    found, last = rows.page(ListingFilter(), after=None, limit=5)
    assert render.page_of_bodies([r.body for r in found], "next") == render.page(
        newest_first[:5], "next"
    )
    assert render.page_of_bodies([], None) == render.page([], None)
    assert last == found[-1].sort_key


def test_paging_visits_every_match_once_for_every_limit_even_past_a_vanished_row() -> None:
    listings = [_listing(i) for i in range(40)]
    rows = CategoryRows.decode(_encode("c-1", listings, truncated=False))
    wanted = ListingFilter(location="leeds", skills=frozenset({"python"}))
    expected = [r.sort_key for r in rows.rows if "leeds" in r.location and "python" in r.skills]
    assert len(expected) == 4  # indexes 0, 12, 24, 36
    for limit in range(1, len(expected) + 2):
        seen: list[str] = []
        after: str | None = None
        for _ in range(len(expected) + 1):
            found, after = rows.page(wanted, after=after, limit=limit)
            assert 0 < len(found) <= limit
            seen += [r.sort_key for r in found]
            if after is None:
                break
        assert seen == expected, limit
    # A cursor names a position, not a row: continuing after a row since deleted still
    # yields exactly the older matches.
    gone = CategoryRows.decode(
        _encode("c-1", [x for x in listings if x.id != "l-0024"], truncated=False)
    )
    found, _ = gone.page(wanted, after=expected[1], limit=10)
    assert [r.sort_key for r in found] == expected[2:]


def test_the_memo_decodes_once_per_etag_and_stays_within_its_budget() -> None:
    memo = RowsMemo(max_bytes=3_000)
    small = _entry(_encode("c-1", [_listing(1)], truncated=False))
    first = memo.get(small)
    assert memo.get(small) is first  # no second decode
    assert memo.get(_entry(small.body)) is first  # the same bytes, the same etag
    bodies = [_encode(f"c-{i}", [_listing(i)], truncated=False) for i in range(10)]
    for body in bodies:
        memo.get(_entry(body))
    assert sum(len(b) for b in bodies[-len(memo) :]) <= 3_000
    assert 1 < len(memo) < 10
    huge = _entry(_encode("c-big", [_listing(i) for i in range(200)], truncated=True))
    assert len(huge.body) > 3_000
    decoded = memo.get(huge)
    assert len(memo) == 1  # the newest is kept, whatever its size
    assert decoded.truncated
    assert memo.get(huge) is decoded
    assert MEMO_MAX_BYTES >= 1 << 20


def test_the_cached_form_decodes_to_the_rows_it_was_built_from() -> None:
    listings = [_listing(i, micros=i % 3 == 0) for i in range(25)]
    built = CategoryRows.build("c-1", listings, truncated=True)
    body = built.encode()
    assert CategoryRows.decode(body) == built
    with pytest.raises(ValueError, match="add up"):
        CategoryRows.decode(body[:-1])
