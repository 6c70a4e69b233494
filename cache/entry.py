"""What the cache stores and returns: a ready-to-send body with its ETag, computed once."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class Entry:
    body: bytes
    etag: str  # strong ETag, quotes included
    status: int  # 200, or 404 for a negative entry
    stored_at: float  # wall clock when loaded from the source
    fresh_until: float  # past this the entry is only served on a source error (stale-if-error)

    @classmethod
    def build(
        cls, body: bytes, *, status: int, now: float, ttl: float, etag: str | None = None
    ) -> Entry:
        return cls(
            body=body,
            etag=etag if etag is not None else compute_etag(body),
            status=status,
            stored_at=now,
            fresh_until=now + ttl,
        )


@dataclass(frozen=True, slots=True)
class Loaded:
    body: bytes
    status: int = 200
    ttl: float | None = None  # None: the cache's fresh TTL; capped at it (see ReadThroughCache)
    etag: str | None = None  # None: a blake2b digest of the body; else strong, quotes included


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
