"""The read-through cache, built from settings: the in-process layer, Redis when configured,
and DynamoDB unavailability as the one failure a stale copy may cover."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from cache import (
    CacheObserver,
    ChannelSettings,
    CutOffNotices,
    MemoryLayer,
    ReadThroughCache,
    RedisLayer,
)
from service.config import Settings
from service.errors import StoreUnavailable

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def open_cache(
    settings: Settings, *, observer: CacheObserver, notices: CutOffNotices | None = None
) -> AsyncIterator[ReadThroughCache]:
    """`notices`: where a process cut off from Redis says so (cache.cutoff); None: nowhere."""
    redis = None
    if settings.redis_url:
        redis = RedisLayer.from_url(
            settings.redis_url,
            prefix=settings.redis_prefix,
            timeout=settings.redis_timeout_s,
            cluster_groups=settings.redis_cluster_groups if settings.redis_cluster else None,
        )
    else:
        log.warning("no Redis configured: in-process cache only, no cross-instance invalidation")
    cache = ReadThroughCache(
        # A budget of 0 turns the in-process layer off (Redis then serves every hit).
        memory=(
            MemoryLayer(
                max_bytes=settings.cache_memory_max_bytes,
                negative_max_bytes=settings.cache_negative_max_bytes,
            )
            if settings.cache_memory_max_bytes > 0
            else None
        ),
        redis=redis,
        observer=observer,
        fresh_ttl=settings.cache_fresh_ttl_s,
        stale_window=settings.cache_stale_window_s,
        # Only an unavailable database may be papered over with a stale copy; a bad request
        # or a bug must surface.
        stale_on=(StoreUnavailable,),
        stale_after=settings.cache_stale_after_s,
        channel=ChannelSettings(
            lease=settings.cache_lease_s, registry_ttl=settings.cache_registry_ttl_s
        ),
        notices=notices if settings.cache_cut_off_notice_s > 0 else None,
        notice_valid_for=settings.cache_cut_off_notice_s or 1.0,
    )
    async with cache:
        # Until the invalidation channel is subscribed and its first PONG has granted a lease,
        # the in-process layer is not served; waiting briefly at startup avoids that slow start.
        if redis is not None:
            await cache.wait_connected(2.0)
        yield cache
