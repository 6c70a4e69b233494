"""The in-process layer: a byte-budgeted LRU of entries with a tag -> keys index.

It is a plain data structure with no clock and no I/O: callers pass `now` and the expiry
times, which keeps `get_fresh` (the hot path) to a dict lookup, a comparison and an LRU touch.
Whether a store is still allowed (the stale-set guard) is decided by the caller, see
`cache.generations`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from cache.entry import Entry, Lookup, Source

# Rough per-item cost of the dict slot, the _Item, the Entry and the index sets.
_OVERHEAD_BYTES = 256


@dataclass(slots=True)
class _Item:
    entry: Entry
    tags: tuple[str, ...]
    fresh_until: float  # local freshness; may be shorter than entry.fresh_until (degraded)
    keep_until: float  # kept past freshness only to serve stale-if-error
    size: int
    hit: Lookup  # built once: a fresh hit returns it without allocating


class MemoryLayer:
    def __init__(self, *, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        self._max_bytes = max_bytes
        self._bytes = 0
        self._items: OrderedDict[str, _Item] = OrderedDict()
        self._by_tag: dict[str, set[str]] = {}

    def __len__(self) -> int:
        return len(self._items)

    @property
    def bytes_used(self) -> int:
        return self._bytes

    @property
    def max_bytes(self) -> int:
        return self._max_bytes

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
        size = _OVERHEAD_BYTES + len(key) + entry.size  # the encodings count too
        size += sum(len(tag) for tag in tags)
        if key in self._items:
            self._remove(key)
        if size > self._max_bytes:
            return False, 0
        evicted = 0
        while self._bytes + size > self._max_bytes:
            oldest = next(iter(self._items))
            self._remove(oldest)
            evicted += 1
        self._items[key] = _Item(
            entry, tags, fresh_until, keep_until, size, Lookup(entry, Source.MEMORY)
        )
        self._bytes += size
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
        self._by_tag.clear()
        self._bytes = 0

    def _remove(self, key: str) -> None:
        item = self._items.pop(key)
        self._bytes -= item.size
        for tag in item.tags:
            keys = self._by_tag.get(tag)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_tag[tag]
