"""A snapshot of the cache's state for readiness probes and logs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CacheHealth:
    redis_configured: bool
    redis_ok: bool  # breaker closed and no invalidation waiting to reach Redis
    breaker: str
    channel_connected: bool
    pending_invalidations: int
    memory_entries: int
    memory_bytes: int
    loads_in_flight: int
    lease_valid: bool = True  # may the in-process layer be served now (cache.lease)
