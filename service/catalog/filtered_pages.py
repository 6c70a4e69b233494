"""A filtered category page: a scan over the category's cached chunks
(service.catalog.category_rows), from the cursor's chunk on, until the page holds `limit`
matches and one more, the category ends, or `MAX_SCAN_CHUNKS` chunks were scanned.

Chunk 0 is looked up first, by every request: its loader resolves the category (a 404 is
cached under its key, as for the category's pages), and it names the category id that the
cursor's scope is built from. A chunk k > 0 is loaded from its predecessor's last row: the
scan has it in hand when it moves on; a cursor's chunk that is not cached loads its
predecessors back to the nearest cached one, at most `MAX_SCAN_CHUNKS` of them. Past that,
or when the chunks at hand do not line up with the cursor (rows moved since it was issued),
the scan reads one chunk's worth from the cursor's sort key directly, uncached: always
correct, at one Query per chunk scanned. (A chunk out of the chain's reach is refused by its
loader, so it counts as a load with outcome "error" in the cache's load metric; nothing is
cached for it.)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from cache import Entry, Loaded, Lookup, ReadThroughCache, Source, compute_etag
from service.catalog import cachekeys, render
from service.catalog.category_rows import (
    CHUNK_ROWS,
    MAX_SCAN_CHUNKS,
    Chunk,
    ChunkMemo,
    decode_cursor,
    encode_cursor,
)
from service.catalog.listing_filter import ListingFilter, Row
from service.models.category import Category
from service.store.stores import Stores

Fill = Callable[[str, list[str], Callable[[], Awaitable[Loaded]]], Awaitable[Lookup]]
# How far a cursor's hint may be from the chunk that holds its sort key: a write moves rows
# between neighbouring chunks; past this the scan reads from the sort key directly.
HINT_STEPS = 2
# The answer's source, worst first: a stale chunk makes a stale page, a loaded one a miss.
_RANK = (Source.STALE, Source.MISS, Source.REDIS, Source.MEMORY)


class _Unchained(Exception):
    """The chunk asked for is not within reach of the chain (too far from a cached chunk, or
    past the category's end): the scan reads directly instead. Never cached."""


@dataclass
class _Used:
    """What the answer's headers are made of: every chunk it was computed from."""

    lookups: list[Lookup] = field(default_factory=list)
    direct: list[str] = field(default_factory=list)  # ETags of chunks read uncached


class FilteredPages:
    def __init__(self, stores: Stores, cache: ReadThroughCache, fill: Fill) -> None:
        self._stores = stores
        self._cache = cache
        self._fill = fill  # the request deadline and wait timing (service.catalog.reads)
        self._memo = ChunkMemo()

    async def page(
        self,
        ref: str,
        tags: list[str],
        first: Callable[[], Awaitable[Lookup]],
        wanted: ListingFilter,
        *,
        limit: int,
        cursor: str | None,
    ) -> Lookup:
        """`first` looks up chunk 0 (Reads builds its loader, which resolves the category)."""
        head_lookup = await first()
        if head_lookup.entry.status != 200:
            return head_lookup  # the category's 404, cached as for its pages
        head = self._memo.get(head_lookup.entry)
        used = _Used([head_lookup])
        codec, category_id = self._stores.cursors, head.category_id
        after, hint = (
            (None, 0) if cursor is None else decode_cursor(codec, category_id, wanted, cursor)
        )
        chunk = head if after is None else await self._locate(ref, tags, head, hint, after, used)
        found: list[Row] = []
        next_at: tuple[str, int] | None = None
        position = after
        on_chain = chunk is not None
        for scanned in range(1, MAX_SCAN_CHUNKS + 1):
            if chunk is None:  # off the chain: one chunk's worth from the position, uncached
                chunk, on_chain = await self._direct(category_id, hint, position, used), False
            for row in chunk.matches(wanted, position):
                if len(found) == limit:  # one more match: the page ends with a cursor
                    next_at = (found[-1].sort_key, chunk.index)
                    break
                found.append(row)
            if next_at is not None or chunk.last:
                break
            position, hint = chunk.end, chunk.index + 1
            if scanned == MAX_SCAN_CHUNKS:
                # The request's work is bounded: what it found, and where to go on.
                next_at = (position, hint) if position is not None else None
                break
            chunk = await self._next(ref, tags, chunk, used) if on_chain else None
            on_chain = chunk is not None
        next_cursor = None
        if next_at is not None:
            next_cursor = encode_cursor(codec, category_id, wanted, *next_at)
        return _answer(found, next_cursor, used, wanted, after, limit)

    async def _locate(
        self, ref: str, tags: list[str], head: Chunk, hint: int, after: str, used: _Used
    ) -> Chunk | None:
        """The cached chunk that holds the rows just older than `after`, from the cursor's
        hint, or None (the scan then reads directly)."""
        index = hint
        for _ in range(HINT_STEPS + 1):
            try:
                chunk, lookup = await self._chunk_at(ref, tags, head, index, MAX_SCAN_CHUNKS)
            except _Unchained:
                return None
            if chunk.category_id != head.category_id:
                return None  # a ref that named another category when it was cached
            if chunk.covers(after):
                if lookup is not None:
                    used.lookups.append(lookup)
                return chunk
            index += chunk.step_towards(after)
            if index < 0:
                return None
        return None

    async def _chunk_at(
        self, ref: str, tags: list[str], head: Chunk, index: int, reach: int
    ) -> tuple[Chunk, Lookup | None]:
        """Chunk `index`, from the cache or loaded along the chain from the nearest cached
        predecessor at most `reach` chunks back."""
        if index == 0:
            return head, None

        async def load() -> Loaded:
            if reach == 0:
                raise _Unchained(index)
            before, _ = await self._chunk_at(ref, tags, head, index - 1, reach - 1)
            return await self._load_after(before)

        key = cachekeys.category_chunk_key(ref, index)
        lookup = self._cache.peek(key) or await self._fill(key, tags, load)
        return self._memo.get(lookup.entry), lookup

    async def _next(self, ref: str, tags: list[str], chunk: Chunk, used: _Used) -> Chunk | None:
        """The chunk after `chunk` (one Query from its last row on a miss), or None if the
        cached one does not start where `chunk` ends (rows moved: read directly)."""
        key = cachekeys.category_chunk_key(ref, chunk.index + 1)
        try:
            lookup = self._cache.peek(key) or await self._fill(
                key, tags, lambda: self._load_after(chunk)
            )
        except _Unchained:
            return None
        found = self._memo.get(lookup.entry)
        if found.category_id != chunk.category_id or not found.covers(chunk.end):
            return None
        used.lookups.append(lookup)
        return found

    async def _load_after(self, before: Chunk) -> Loaded:
        if before.last:
            raise _Unchained(before.index + 1)  # past the category's end: nothing to cache
        listings = await self._stores.listings.chunk_in_category(
            before.category_id, older_than=before.end, limit=CHUNK_ROWS
        )
        return self.loaded(Chunk.build(before.category_id, before.index + 1, before.end, listings))

    def loaded(self, chunk: Chunk) -> Loaded:
        """A chunk's cache entry; the memo is seeded with the rows already built."""
        body = chunk.encode()
        etag = compute_etag(body)  # what the cache would compute
        # Content-addressed: right even if the cache declines to store this load.
        self._memo.put(etag, chunk, size=len(body))
        return Loaded(body=body, etag=etag)

    async def load_first(self, category: Category) -> Loaded:
        listings = await self._stores.listings.chunk_in_category(
            category.id, older_than=None, limit=CHUNK_ROWS
        )
        return self.loaded(Chunk.build(category.id, 0, None, listings))

    async def _direct(self, category_id: str, index: int, after: str | None, used: _Used) -> Chunk:
        listings = await self._stores.listings.chunk_in_category(
            category_id, older_than=after, limit=CHUNK_ROWS
        )
        chunk = Chunk.build(category_id, index, after, listings)
        used.direct.append(compute_etag(chunk.encode()))
        return chunk


def _answer(
    found: list[Row],
    next_cursor: str | None,
    used: _Used,
    wanted: ListingFilter,
    after: str | None,
    limit: int,
) -> Lookup:
    body = render.page_of_bodies([row.body for row in found], next_cursor)
    entries = [lookup.entry for lookup in used.lookups]
    # The body is a function of exactly these (each chunk named by its digest), so they name
    # it as well as a digest of its bytes would, at a fraction of the cost.
    inputs = (
        *(entry.etag for entry in entries),
        *used.direct,
        wanted.canonical(),
        after or "",
        str(limit),
        next_cursor or "",
    )
    answer = Entry(
        body=body,
        etag=render.derived_etag("filtered-page.2", *inputs),
        status=200,
        stored_at=min(entry.stored_at for entry in entries),  # the data's age, for Age
        fresh_until=min(entry.fresh_until for entry in entries),
    )
    sources = {lookup.source for lookup in used.lookups}
    if used.direct:
        sources.add(Source.MISS)
    return Lookup(answer, next(source for source in _RANK if source in sources))
