"""What a process without a lease may still serve from memory: what it read itself, for at
most one lease after that read began.

Why that keeps the bound of `cache.barrier` (a read that starts after a write's response sees
the write): a copy read at `r` from DynamoDB (strongly consistent) or Redis holds every write
committed before `r`. A write it may lack committed after `r`, and its writer answers only
after (a) every registered instance acked it, or its script's reply + one lease, when Redis
answers the writer; or (b) one lease past its failed attempt at Redis, when it does not. Both
come after `r` + one lease. So a copy served until `r` + lease, and no later, is never older
than a write that answered before the read began. (a) needs this process to be in the
registry, so a copy is also never served past the lease's registration cap (`cache.lease`):
half the registration TTL past the last registration this process sent. Redis losing the
registry itself (a restart without persistence, a flush) is detected by the first instance
that finds its own registration gone, and by a writer that is not in it: writes then wait out
the lease for one registration TTL (`cache.redis_layer`: `instances:lost`).

Past the registration cap, the process's cut-off notices vouch for it instead, where the
writers still read them (`cache.cutoff`).

Without this, a process that lost Redis served nothing from memory and every read of a hot key
went to the table; with it, a key costs a load at most once per lease per process (single
flight shares each load), for as long as the registration or the notices vouch for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cache.entry import Entry, Lookup, Source


@dataclass(frozen=True, slots=True)
class _Recent:
    hit: Lookup
    tags: tuple[str, ...]
    until: float  # monotonic


class RecentReads:
    """Bounded by count; every item expires within a lease, so the map stays small."""

    def __init__(self, *, max_items: int = 4096) -> None:
        self._items: dict[str, _Recent] = {}
        self._max_items = max_items

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: str, now: float) -> Lookup | None:
        item = self._items.get(key)
        if item is None:
            return None
        if now >= item.until:
            del self._items[key]
            return None
        return item.hit

    def put(
        self, key: str, tags: tuple[str, ...], entry: Entry, *, until: float, now: float
    ) -> None:
        if until <= now:
            return
        if key not in self._items and len(self._items) >= self._max_items:
            self._items = {k: item for k, item in self._items.items() if item.until > now}
            if len(self._items) >= self._max_items:
                return  # only ever a lost chance to spare the table a read
        self._items[key] = _Recent(Lookup(entry, Source.MEMORY), tags, until)

    def drop(self, tags: Iterable[str]) -> None:
        if not self._items:
            return
        wanted = frozenset(tags)
        for key in [k for k, item in self._items.items() if wanted.intersection(item.tags)]:
            del self._items[key]

    def clear(self) -> None:
        self._items.clear()
