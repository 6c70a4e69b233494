"""The in-process layer: a byte-budgeted LRU of entries with a tag -> keys index.

It is a plain data structure with no clock and no I/O: callers pass `now` and the expiry
times, which keeps `get_fresh` (the hot path) to a dict lookup, a comparison and an LRU touch.
Whether a store is still allowed (the stale-set guard) is decided by the caller, see
`cache.generations`.
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from cache.entry import Entry, Lookup, Source

# What an item holds beyond its bytes and strings, measured with tracemalloc
# (tests/cache/test_memory_budget.py holds the count to what the heap really grows by): the
# LRU's dict slot and node, the _Item, the Entry, its prebuilt Lookup and the tags tuple; per
# encoding its (name, bytes) pair; per tag its slot in the index, a set of its own when the tag
# is new (the usual case for an entity's own tags).
_ITEM_BYTES = 480
_PAIR_BYTES = 64
_TAG_INDEX_BYTES = 300


def item_size(key: str, tags: tuple[str, ...], entry: Entry) -> int:
    """The heap an item takes, as counted against the budget: every object it holds, headers
    included, not just the lengths of its bytes."""
    size = _ITEM_BYTES + sys.getsizeof(key) + sys.getsizeof(entry.body)
    size += sys.getsizeof(entry.etag)
    for _, data in entry.encodings:
        size += _PAIR_BYTES + sys.getsizeof(data)
    for tag in tags:
        size += _TAG_INDEX_BYTES + sys.getsizeof(tag)
    return size


@dataclass(slots=True)
class _Item:
    entry: Entry
    tags: tuple[str, ...]
    fresh_until: float  # local freshness; may be shorter than entry.fresh_until (degraded)
    keep_until: float  # kept past freshness only to serve stale-if-error
    size: int
    hit: Lookup  # built once: a fresh hit returns it without allocating


class MemoryLayer:
    """`negative_max_bytes` bounds the negative entries (status other than 200) within the
    budget: anyone can ask for names that do not exist, and those must not push out the
    entries that are read. They are evicted oldest first (FIFO: the hot path stays a single
    LRU touch)."""

    def __init__(self, *, max_bytes: int, negative_max_bytes: int | None = None) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        self._max_bytes = max_bytes
        self._negative_max_bytes = (
            max_bytes // 8 if negative_max_bytes is None else min(negative_max_bytes, max_bytes)
        )
        self._bytes = 0
        self._negative_bytes = 0
        self._items: OrderedDict[str, _Item] = OrderedDict()
        self._negative: OrderedDict[str, None] = OrderedDict()
        self._by_tag: dict[str, set[str]] = {}

    def __len__(self) -> int:
        return len(self._items)

    @property
    def bytes_used(self) -> int:
        return self._bytes

    @property
    def max_bytes(self) -> int:
        return self._max_bytes

    @property
    def negative_bytes(self) -> int:
        return self._negative_bytes

    def get_fresh(self, key: str, now: float) -> Entry | None:
        hit = self.get_fresh_hit(key, now)
        return None if hit is None else hit.entry

    def get_fresh_hit(self, key: str, now: float) -> Lookup | None:
        """The hot path: the item's prebuilt memory-hit Lookup, or None."""
        item = self._items.get(key)
        if item is None or now >= item.fresh_until:
            return None
        self._items.move_to_end(key)
        return item.hit

    def get_stale(self, key: str, now: float) -> Entry | None:
        """A copy past its freshness but within its keep time; present means not invalidated."""
        item = self._items.get(key)
        if item is None:
            return None
        if now >= item.keep_until:
            self._remove(key)
            return None
        return item.entry

    def put(
        self,
        key: str,
        tags: tuple[str, ...],
        entry: Entry,
        *,
        fresh_until: float,
        keep_until: float,
    ) -> tuple[bool, int]:
        """Store, evicting least recently used items; returns (stored, evicted count)."""
        size = item_size(key, tags, entry)
        negative = entry.status != 200
        if key in self._items:
            self._remove(key)
        if size > (self._negative_max_bytes if negative else self._max_bytes):
            return False, 0
        evicted = 0
        if negative:
            while self._negative_bytes + size > self._negative_max_bytes:
                self._remove(next(iter(self._negative)))
                evicted += 1
        while self._bytes + size > self._max_bytes:
            oldest = next(iter(self._items))
            self._remove(oldest)
            evicted += 1
        self._items[key] = _Item(
            entry, tags, fresh_until, keep_until, size, Lookup(entry, Source.MEMORY)
        )
        self._bytes += size
        if negative:
            self._negative[key] = None
            self._negative_bytes += size
        for tag in tags:
            self._by_tag.setdefault(tag, set()).add(key)
        return True, evicted

    def invalidate(self, tags: Iterable[str]) -> int:
        dropped = 0
        for tag in tags:
            for key in self._by_tag.pop(tag, ()):
                if key in self._items:
                    self._remove(key)
                    dropped += 1
        return dropped

    def clear(self) -> None:
        self._items.clear()
        self._negative.clear()
        self._by_tag.clear()
        self._bytes = 0
        self._negative_bytes = 0

    def _remove(self, key: str) -> None:
        item = self._items.pop(key)
        self._bytes -= item.size
        if item.entry.status != 200:
            del self._negative[key]
            self._negative_bytes -= item.size
        for tag in item.tags:
            keys = self._by_tag.get(tag)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_tag[tag]
