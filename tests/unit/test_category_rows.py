"""The in-process side of filtered pages: a chunk's bytes, its range, its memo, cursors."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from cache.entry import Entry
from service.catalog import render
from service.catalog.category_rows import (
    CHUNK_ROWS,
    MEMO_MAX_BYTES,
    Chunk,
    ChunkMemo,
    decode_cursor,
    encode_cursor,
)
from service.catalog.listing_filter import ListingFilter
from service.errors import BadInput
from service.models.listing import IncomePotential, Listing
from service.store.cursor import CursorCodec

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


def _chunk(
    category_id: str, listings: list[Listing], *, index: int = 0, start: str | None = None
) -> Chunk:
    return Chunk.build(category_id, index, start, listings)


def _entry(body: bytes) -> Entry:
    return Entry.build(body, status=200, now=time.time(), ttl=60)


def test_a_page_from_a_chunk_is_byte_for_byte_the_rendered_page() -> None:
    listings = [_listing(i, micros=i % 2 == 1) for i in range(12)]
    chunk = Chunk.decode(_chunk("c-1", listings).encode())
    newest_first = sorted(listings, key=lambda x: x.created_at, reverse=True)
    assert [row.sort_key.split("#")[1] for row in chunk.rows] == [x.id for x in newest_first]
    found = list(chunk.matches(ListingFilter(), None))[:5]
    assert render.page_of_bodies([r.body for r in found], "next") == render.page(
        newest_first[:5], "next"
    )
    assert render.page_of_bodies([], None) == render.page([], None)


def test_a_chunk_knows_whether_it_is_the_last_and_which_positions_it_covers() -> None:
    listings = [_listing(i) for i in range(CHUNK_ROWS + 1)]
    full = _chunk("c-1", listings)  # one more than a chunk: more follow
    assert len(full.rows) == CHUNK_ROWS
    assert not full.last
    assert full.covers(None)
    assert full.end == full.rows[-1].sort_key
    assert full.covers(full.rows[3].sort_key)
    assert not full.covers(full.rows[-1].sort_key)  # what follows it is the next chunk's
    nxt = _chunk("c-1", listings[:1], index=1, start=full.end)
    assert nxt.last
    assert nxt.covers(full.end)
    assert not nxt.covers(None)
    assert not nxt.covers(full.rows[3].sort_key)  # rows newer than its start: not in it
    assert nxt.step_towards(full.rows[3].sort_key) == -1
    assert full.step_towards(full.rows[-1].sort_key) == 1
    # A position older than every row of the last chunk: covered, nothing older.
    assert nxt.covers("0000")
    assert list(nxt.matches(ListingFilter(), "0000")) == []


def test_matches_after_a_position_even_past_a_vanished_row() -> None:
    listings = [_listing(i) for i in range(40)]
    chunk = _chunk("c-1", listings)
    wanted = ListingFilter(location="leeds", skills=frozenset({"python"}))
    expected = [r.sort_key for r in chunk.rows if "leeds" in r.location and "python" in r.skills]
    assert len(expected) == 4  # indexes 0, 12, 24, 36
    assert [r.sort_key for r in chunk.matches(wanted, None)] == expected
    # A cursor names a position, not a row: continuing after a row since deleted still
    # yields exactly the older matches.
    gone = _chunk("c-1", [x for x in listings if x.id != "l-0024"])
    assert [r.sort_key for r in gone.matches(wanted, expected[1])] == expected[2:]


def test_the_memo_decodes_once_per_etag_and_stays_within_its_budget() -> None:
    memo = ChunkMemo(max_bytes=3_000)
    small = _entry(_chunk("c-1", [_listing(1)]).encode())
    first = memo.get(small)
    assert memo.get(small) is first  # no second decode
    assert memo.get(_entry(small.body)) is first  # the same bytes, the same etag
    bodies = [_chunk(f"c-{i}", [_listing(i)]).encode() for i in range(10)]
    for body in bodies:
        memo.get(_entry(body))
    assert sum(len(b) for b in bodies[-len(memo) :]) <= 3_000
    assert 1 < len(memo) < 10
    huge = _entry(_chunk("c-big", [_listing(i) for i in range(200)], index=3, start="x").encode())
    assert len(huge.body) > 3_000
    decoded = memo.get(huge)
    assert len(memo) == 1  # the newest is kept, whatever its size
    assert (decoded.index, decoded.start) == (3, "x")
    assert memo.get(huge) is decoded
    assert MEMO_MAX_BYTES >= 1 << 20


def test_the_cached_form_decodes_to_the_rows_it_was_built_from() -> None:
    listings = [_listing(i, micros=i % 3 == 0) for i in range(25)]
    built = _chunk("c-1", listings, index=2, start="2025-12-31T00:00:00.000000+00:00#z")
    body = built.encode()
    assert Chunk.decode(body) == built
    with pytest.raises(ValueError, match="add up"):
        Chunk.decode(body[:-1])


def test_a_cursor_carries_its_position_and_chunk_and_is_bound_to_its_scope() -> None:
    codec = CursorCodec(b"secret")
    wanted = ListingFilter(remote=True)
    token = encode_cursor(codec, "c-1", wanted, "2026-01-01#x", 7)
    assert decode_cursor(codec, "c-1", wanted, token) == ("2026-01-01#x", 7)
    for category, other in (("c-2", wanted), ("c-1", ListingFilter(remote=False))):
        with pytest.raises(BadInput):
            decode_cursor(codec, category, other, token)
    scope = f"rows:c-1:{wanted.canonical()}"
    for payload in ({"a": "k", "k": -1}, {"a": "k", "k": "1"}, {"a": "", "k": 0}):
        with pytest.raises(BadInput):
            decode_cursor(codec, "c-1", wanted, codec.encode(scope, payload))
    assert decode_cursor(codec, "c-1", wanted, codec.encode(scope, {"a": "k"})) == ("k", 0)
