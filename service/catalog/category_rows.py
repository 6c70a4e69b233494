"""A category's listings as one cached value, filtered and paged in-process.

Filtered pages are not cached one per filter (an unbounded key space anyone could fill, and
a DynamoDB query per distinct filter). Instead the category's whole collection, newest first,
is one cache entry under the category's tags, so it is loaded, invalidated and served stale
exactly like the category's unfiltered pages. Every filtered page is computed from it:

- The entry's body (`CategoryRows.encode`) is a line of JSON holding what filters read, then
  every listing's ready-to-send bytes. The process that loads it keeps the rows it built; any
  other decodes it once per ETag (`RowsMemo`, bounded in bytes). A page is a join of row
  bytes, not a render.
- A page scans forward from its cursor's position until it holds `limit` matches and one
  more (so a page that ends the matches never carries a cursor to an empty page).
- A cursor is the sort key of the last row sent, HMAC-signed under a scope naming the
  category and the canonical filter (`encode_cursor`): used with another filter or category it
  is a 400, like an edited one.

Bound: a category's collection holds its newest `MAX_ROWS` listings; filters see those only.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import orjson

from cache import Entry
from service.catalog import render
from service.catalog.listing_filter import ListingFilter, Row, fold
from service.errors import BadInput
from service.models.listing import Listing
from service.store.cursor import CursorCodec
from service.store.keys import iso

MAX_ROWS = 5_000
# Decoded collections kept per process, weighed by their cached body (decoded rows take about
# twice that); the newest is always kept, whatever its size.
MEMO_MAX_BYTES = 16 * 1024 * 1024
_MAX_SORT_KEY_CHARS = 200


def sort_key(listing: Listing) -> str:
    # As the SK of the listing's copy in its category (keys.category_listing), minus the
    # prefix: fixed-width UTC timestamps, so string order is time order.
    return f"{iso(listing.created_at)}#{listing.id}"


def row_of(listing: Listing) -> Row:
    income = listing.income_potential
    return Row(
        sort_key=sort_key(listing),
        body=render.body(listing),  # the bytes render.page writes for it
        location=fold(listing.location),
        remote=listing.remote,
        skills=frozenset(fold(skill) for skill in listing.skills),
        income_min=income.min,
        income_max=income.max,
        currency=income.currency,
        period=income.period,
    )


@dataclass(frozen=True, slots=True)
class CategoryRows:
    category_id: str
    rows: tuple[Row, ...]  # newest first
    truncated: bool
    _ascending: list[str] = field(repr=False)

    @classmethod
    def build(
        cls, category_id: str, listings: Sequence[Listing], *, truncated: bool
    ) -> CategoryRows:
        return cls.of(category_id, [row_of(x) for x in listings], truncated=truncated)

    @classmethod
    def of(cls, category_id: str, rows: Sequence[Row], *, truncated: bool) -> CategoryRows:
        # Sorted here, not trusted to arrive sorted: paging bisects on this order.
        ordered = tuple(sorted(rows, key=lambda row: row.sort_key, reverse=True))
        return cls(category_id, ordered, truncated, [row.sort_key for row in reversed(ordered)])

    def encode(self) -> bytes:
        """The cached form: one JSON line of what filters read, then every listing's bytes.
        Decoding it parses only the filter fields and slices the rest, which keeps the
        event loop's pause small when another process first reads a new collection."""
        head = {
            "categoryId": self.category_id,
            "truncated": self.truncated,
            "rows": [
                [r.sort_key, len(r.body), r.location, r.remote, sorted(r.skills),
                 r.income_min, r.income_max, r.currency, r.period]
                for r in self.rows
            ],
        }  # fmt: skip
        # orjson writes no raw newline (it escapes them in strings): the first one ends it.
        return b"".join((orjson.dumps(head), b"\n", *(r.body for r in self.rows)))

    @classmethod
    def decode(cls, body: bytes) -> CategoryRows:
        end = body.index(b"\n")
        head = orjson.loads(body[:end])
        offset = end + 1
        rows: list[Row] = []
        for key, size, location, remote, skills, low, high, currency, period in head["rows"]:
            rows.append(
                Row(key, body[offset : offset + size], location, remote, frozenset(skills),
                    low, high, currency, period)
            )  # fmt: skip
            offset += size
        if offset != len(body):
            raise ValueError("the collection's rows do not add up to its body")
        return cls.of(head["categoryId"], rows, truncated=bool(head["truncated"]))

    def page(
        self, wanted: ListingFilter, *, after: str | None, limit: int
    ) -> tuple[list[Row], str | None]:
        """Up to `limit` matches older than `after` (a sort key), and the sort key to continue
        from, or None when no match follows."""
        rows = self.rows
        # The rows older than `after` are the last bisect_left(...) of the newest-first tuple.
        start = 0 if after is None else len(rows) - bisect_left(self._ascending, after)
        found: list[Row] = []
        matches = wanted.matches
        for index in range(start, len(rows)):
            row = rows[index]
            if matches(row):
                if len(found) == limit:
                    return found, found[-1].sort_key
                found.append(row)
        return found, None


class RowsMemo:
    """Decoded collections by ETag (a digest of the body, so a hit is always the same data).
    A collection replaced in the cache is simply never asked for again and ages out."""

    def __init__(self, *, max_bytes: int = MEMO_MAX_BYTES) -> None:
        self._max_bytes = max_bytes
        self._bytes = 0
        self._items: OrderedDict[str, tuple[CategoryRows, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, entry: Entry) -> CategoryRows:
        found = self._items.get(entry.etag)
        if found is not None:
            self._items.move_to_end(entry.etag)
            return found[0]
        rows = CategoryRows.decode(entry.body)
        self.put(entry.etag, rows, size=len(entry.body))
        return rows

    def put(self, etag: str, rows: CategoryRows, *, size: int) -> None:
        """Remember `rows` as the decoded form of the body whose ETag is `etag`."""
        if etag in self._items:
            self._items.move_to_end(etag)
            return
        self._items[etag] = (rows, size)
        self._bytes += size
        while self._bytes > self._max_bytes and len(self._items) > 1:
            _, (_, dropped) = self._items.popitem(last=False)
            self._bytes -= dropped


def _scope(category_id: str, wanted: ListingFilter) -> str:
    return f"rows:{category_id}:{wanted.canonical()}"


def encode_cursor(codec: CursorCodec, category_id: str, wanted: ListingFilter, after: str) -> str:
    return codec.encode(_scope(category_id, wanted), {"a": after})


def decode_cursor(codec: CursorCodec, category_id: str, wanted: ListingFilter, token: str) -> str:
    """The sort key a cursor continues after; BadInput for a cursor this category and filter
    did not issue."""
    after = codec.decode(_scope(category_id, wanted), token).get("a")
    if not isinstance(after, str) or not 0 < len(after) <= _MAX_SORT_KEY_CHARS:
        raise BadInput("invalid cursor")
    return after
