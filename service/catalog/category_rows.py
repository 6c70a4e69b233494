"""A category's listings in fixed positional chunks, cached, filtered and paged in-process.

Filtered pages are not cached one per filter (an unbounded key space anyone could fill, and
a DynamoDB query per distinct filter). Instead the category's listings, newest first, are cut
into chunks of `CHUNK_ROWS`, each one cache entry under the category's tags, so each is
loaded (single flight), invalidated and served stale exactly like the category's unfiltered
pages. Every filtered page is computed from the chunks its scan touches
(service.catalog.filtered_pages), so a miss costs what that page reads, not what the
category holds:

- Chunk k is rows [k * CHUNK_ROWS, (k + 1) * CHUNK_ROWS) of the newest-first order. Its key
  is (category ref, k): at most one entry per chunk of the category, whatever the filter or
  the cursor, so the key space is as bounded as the category's unfiltered pages'. Keys that
  name a sort key (a chunk starting where a cursor points) would give one entry per listing
  any cursor ever pointed at; keys by time bucket would give chunks of any size.
- Each chunk stores the sort key it starts after (`start`, the previous chunk's last row, or
  None for chunk 0), so chunk k + 1 is one Query from chunk k's last row. Chunks are built
  only along that chain, from chunk 0, so chunk k + 1 starts exactly where chunk k ended
  when it was loaded. Every write to the category drops every chunk at once (the tags).
- The entry's body (`Chunk.encode`) is a line of JSON holding what filters read, then every
  listing's ready-to-send bytes. The process that loads it keeps the rows it built; any other
  decodes it once per ETag (`ChunkMemo`, bounded in bytes). A page is a join of row bytes,
  not a render.
- A cursor is the sort key to continue after and the index of the chunk holding it, HMAC-
  signed under a scope naming the category and the canonical filter (`encode_cursor`): used
  with another filter or category, or edited, it is a 400. The index is a hint, verified
  against the chunk's range (`Chunk.covers`): a write since the cursor was issued moves rows
  between chunks, and the scan then steps to the neighbouring chunk, or reads from the sort
  key directly (uncached) when the chain does not reach it within a bounded number of loads.

Bound: filters see every listing of the category; one request scans at most
`MAX_SCAN_CHUNKS` chunks and answers what it found with a cursor to continue, so a sparse
filter's page may hold fewer than `limit` items (even none) while `nextCursor` is not null.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import orjson

from cache import Entry
from service.catalog import render
from service.catalog.listing_filter import ListingFilter, Row, fold
from service.errors import BadInput
from service.models.listing import Listing
from service.store.cursor import CursorCodec
from service.store.keys import iso

CHUNK_ROWS = 250  # one Query's worth (at most service.store.listings.CHUNK_ITEMS)
MAX_SCAN_CHUNKS = 4  # chunks one request scans before it answers with a cursor
MAX_CHUNK_INDEX = 1_000_000  # a cursor's hint past this is not ours
# Decoded chunks kept per process, weighed by their cached body (decoded rows take about
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
class Chunk:
    """Up to CHUNK_ROWS consecutive listings of a category, newest first: every listing
    older than `start` (None: the newest) down to the last row, as of the chunk's load."""

    category_id: str
    index: int
    start: str | None
    rows: tuple[Row, ...]  # newest first
    last: bool  # no listing of the category is older than the last row

    @classmethod
    def build(
        cls, category_id: str, index: int, start: str | None, listings: Sequence[Listing]
    ) -> Chunk:
        """From a store answer of up to CHUNK_ROWS + 1 listings (the extra says more follow)."""
        rows = [row_of(x) for x in listings[:CHUNK_ROWS]]
        return cls.of(category_id, index, start, rows, last=len(listings) <= CHUNK_ROWS)

    @classmethod
    def of(
        cls, category_id: str, index: int, start: str | None, rows: Sequence[Row], *, last: bool
    ) -> Chunk:
        # Sorted here, not trusted to arrive sorted: scans compare sort keys in this order.
        ordered = tuple(sorted(rows, key=lambda row: row.sort_key, reverse=True))
        return cls(category_id, index, start, ordered, last)

    @property
    def end(self) -> str | None:
        """The sort key the next chunk starts after."""
        return self.rows[-1].sort_key if self.rows else self.start

    def covers(self, after: str | None) -> bool:
        """Whether the listings just older than `after` (None: the newest) begin here: no
        listing between `after` and this chunk's first row is missing from it."""
        if after is None:
            return self.start is None
        if self.start is not None and after > self.start:
            return False  # rows between `after` and `start` are in an earlier chunk
        return self.last or (bool(self.rows) and self.rows[-1].sort_key < after)

    def step_towards(self, after: str) -> int:
        """-1 or +1: the neighbour to look in when this chunk does not cover `after`."""
        return -1 if self.start is not None and after > self.start else 1

    def matches(self, wanted: ListingFilter, after: str | None) -> Iterator[Row]:
        """The rows matching `wanted` that are older than `after`, newest first."""
        test = wanted.matches
        for row in self.rows:
            if (after is None or row.sort_key < after) and test(row):
                yield row

    def encode(self) -> bytes:
        """The cached form: one JSON line of what filters read, then every listing's bytes.
        Decoding it parses only the filter fields and slices the rest, which keeps the
        event loop's pause small when another process first reads a new chunk."""
        head = {
            "categoryId": self.category_id,
            "index": self.index,
            "start": self.start,
            "last": self.last,
            "rows": [
                [r.sort_key, len(r.body), r.location, r.remote, sorted(r.skills),
                 r.income_min, r.income_max, r.currency, r.period]
                for r in self.rows
            ],
        }  # fmt: skip
        # orjson writes no raw newline (it escapes them in strings): the first one ends it.
        return b"".join((orjson.dumps(head), b"\n", *(r.body for r in self.rows)))

    @classmethod
    def decode(cls, body: bytes) -> Chunk:
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
            raise ValueError("the chunk's rows do not add up to its body")
        return cls.of(
            head["categoryId"], int(head["index"]), head["start"], rows, last=bool(head["last"])
        )


class ChunkMemo:
    """Decoded chunks by ETag (a digest of the body, so a hit is always the same data).
    A chunk replaced in the cache is simply never asked for again and ages out."""

    def __init__(self, *, max_bytes: int = MEMO_MAX_BYTES) -> None:
        self._max_bytes = max_bytes
        self._bytes = 0
        self._items: OrderedDict[str, tuple[Chunk, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, entry: Entry) -> Chunk:
        found = self._items.get(entry.etag)
        if found is not None:
            self._items.move_to_end(entry.etag)
            return found[0]
        chunk = Chunk.decode(entry.body)
        self.put(entry.etag, chunk, size=len(entry.body))
        return chunk

    def put(self, etag: str, chunk: Chunk, *, size: int) -> None:
        """Remember `chunk` as the decoded form of the body whose ETag is `etag`."""
        if etag in self._items:
            self._items.move_to_end(etag)
            return
        self._items[etag] = (chunk, size)
        self._bytes += size
        while self._bytes > self._max_bytes and len(self._items) > 1:
            _, (_, dropped) = self._items.popitem(last=False)
            self._bytes -= dropped


def _scope(category_id: str, wanted: ListingFilter) -> str:
    return f"rows:{category_id}:{wanted.canonical()}"


def encode_cursor(
    codec: CursorCodec, category_id: str, wanted: ListingFilter, after: str, index: int
) -> str:
    return codec.encode(_scope(category_id, wanted), {"a": after, "k": index})


def decode_cursor(
    codec: CursorCodec, category_id: str, wanted: ListingFilter, token: str
) -> tuple[str, int]:
    """The sort key a cursor continues after and its chunk hint; BadInput for a cursor this
    category and filter did not issue. (A cursor of before chunks carries no hint: 0.)"""
    payload = codec.decode(_scope(category_id, wanted), token)
    after, index = payload.get("a"), payload.get("k", 0)
    if not isinstance(after, str) or not 0 < len(after) <= _MAX_SORT_KEY_CHARS:
        raise BadInput("invalid cursor")
    if type(index) is not int or not 0 <= index <= MAX_CHUNK_INDEX:
        raise BadInput("invalid cursor")
    return after, index
