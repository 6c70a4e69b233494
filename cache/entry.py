"""What the cache stores and returns: a ready-to-send body with its ETag, computed once, and
the same body in other content codings when the loader made them (also once, at fill time)."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from enum import StrEnum

# (content coding, the body in it) pairs, e.g. (("br", ...), ("gzip", ...)).
Encodings = tuple[tuple[str, bytes], ...]


@dataclass(frozen=True, slots=True)
class Entry:
    body: bytes
    etag: str  # strong ETag, quotes included
    status: int  # 200, or 404 for a negative entry
    stored_at: float  # wall clock when loaded from the source
    fresh_until: float  # past this the entry is only served on a source error (stale-if-error)
    # The body in other content codings, (name, bytes) pairs, stored and served as they are:
    # the cache neither makes nor reads them. A tuple, not a dict: two pairs at most, and an
    # entry without any shares the one empty tuple.
    encodings: Encodings = ()

    @classmethod
    def build(
        cls,
        body: bytes,
        *,
        status: int,
        now: float,
        ttl: float,
        etag: str | None = None,
        encodings: Encodings = (),
    ) -> Entry:
        return cls(
            body=body,
            etag=etag if etag is not None else compute_etag(body),
            status=status,
            stored_at=now,
            fresh_until=now + ttl,
            encodings=encodings,
        )

    def encoded(self, coding: str) -> bytes | None:
        for name, data in self.encodings:
            if name == coding:
                return data
        return None

    @property
    def size(self) -> int:
        """Bytes of body, ETag and encodings: what the entry holds beyond its fixed parts."""
        return len(self.body) + len(self.etag) + sum(len(d) for _, d in self.encodings)


@dataclass(frozen=True, slots=True)
class Loaded:
    body: bytes
    status: int = 200
    ttl: float | None = None  # None: the cache's fresh TTL; capped at it (see ReadThroughCache)
    etag: str | None = None  # None: a blake2b digest of the body; else strong, quotes included
    encodings: Encodings = ()  # kept with the entry in every layer (Entry.encodings)


class Source(StrEnum):
    MEMORY = "memory"
    REDIS = "redis"
    MISS = "miss"
    STALE = "stale"


@dataclass(frozen=True, slots=True)
class Lookup:
    entry: Entry
    source: Source

    @property
    def age(self) -> float:
        return max(0.0, time.time() - self.entry.stored_at)


def compute_etag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'
