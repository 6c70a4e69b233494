"""Invalidation across instances: the channel, its loss, and invalidations Redis missed."""

from __future__ import annotations

import asyncio
import time

import pytest
from redis.asyncio import Redis

from cache import Breaker, Loaded, Source
from tests.cache.conftest import (
    FAST_CHANNEL,
    CacheFactory,
    PrivateRedis,
    RecordingObserver,
    eventually,
)
from tests.support.faultproxy import FaultProxy, Mode

pytestmark = pytest.mark.asyncio(loop_scope="session")

# The propagation bound these tests hold the channel to (loopback, healthy channel).
PROPAGATION_BOUND_S = 0.25


async def load_v1() -> Loaded:
    return Loaded(b"v1")


async def load_v2() -> Loaded:
    return Loaded(b"v2")


async def test_invalidate_on_one_instance_drops_memory_on_another(
    make_cache: CacheFactory,
) -> None:
    observed = RecordingObserver()
    a = await make_cache()
    b = await make_cache(observer=observed)
    await a.get_or_load("k", ["t"], load_v1)
    await b.get_or_load("k", ["t"], load_v1)
    assert b.peek("k") is not None

    started = time.monotonic()
    await a.invalidate(["t"])
    waited = await eventually(lambda: b.peek("k") is None, within=2, step=0.001)
    assert time.monotonic() - started < PROPAGATION_BOUND_S, f"took {waited:.4f} s"
    assert len(observed.delays) == 1
    assert 0 <= observed.delays[0] < PROPAGATION_BOUND_S
    assert (await b.get_or_load("k", ["t"], load_v2)).entry.body == b"v2"


async def test_channel_loss_clears_memory_serves_none_and_clears_on_reconnect(
    make_cache: CacheFactory, private_redis: PrivateRedis
) -> None:
    cache = await make_cache(url=private_redis.url)
    await cache.get_or_load("k", ["t"], load_v1)
    assert cache.peek("k") is not None
    assert cache.health().lease_valid

    private_redis.stop()
    # The listener sees the connection close and drops everything it held, lease included.
    await eventually(lambda: not cache.health().channel_connected, within=2)
    assert cache.peek("k") is None
    assert not cache.health().lease_valid

    # While down, nothing it held is served from memory: it could have missed any write.
    # What it reads now is served for one lease after that read began (cache.recent), no
    # longer: every lease, it is read again.
    for _ in range(3):
        got = await cache.get_or_load("k", ["t"], load_v2)
        assert (got.source, got.entry.body) == (Source.MISS, b"v2")
        await asyncio.sleep(FAST_CHANNEL.lease)
        assert cache.peek("k") is None

    private_redis.start()  # same port: the listener reconnects with bounded backoff
    await eventually(lambda: cache.health().lease_valid, within=3)
    assert cache.peek("k") is None  # cleared again: messages may have been missed
    await cache.get_or_load("k", ["t"], load_v2)
    assert cache.peek("k") is not None


async def test_black_holed_channel_is_detected_by_its_pings(make_cache: CacheFactory) -> None:
    async with FaultProxy("127.0.0.1", 6379) as proxy:
        cache = await make_cache(url=f"redis://127.0.0.1:{proxy.port}/0")
        await cache.get_or_load("k", ["t"], load_v1)
        await proxy.set_mode(Mode.BLACKHOLE)
        lost_after = await eventually(lambda: not cache.health().channel_connected, within=3)
        assert cache.peek("k") is None
        # Detection is bounded by dead_after plus one ping period, not by a TCP timeout.
        assert lost_after < FAST_CHANNEL.dead_after + 2 * FAST_CHANNEL.ping_interval + 0.2
        await proxy.set_mode(Mode.FORWARD)
        await eventually(lambda: cache.health().channel_connected, within=3)
        await cache.aclose()  # before the proxy goes away


async def test_invalidations_redis_missed_are_flushed_before_redis_is_trusted(
    make_cache: CacheFactory, redis_client: Redis, prefix: str
) -> None:
    async with FaultProxy("127.0.0.1", 6379) as proxy:
        observed = RecordingObserver()
        a = await make_cache(url=f"redis://127.0.0.1:{proxy.port}/0", observer=observed)
        b = await make_cache()
        await a.get_or_load("k", ["t"], load_v1)
        await b.get_or_load("k", ["t"], load_v1)

        await proxy.set_mode(Mode.REFUSE)
        started = time.monotonic()
        await a.invalidate(["t"])  # must not raise; succeeds locally
        assert time.monotonic() - started < 0.5
        assert a.peek("k") is None
        assert a.health().pending_invalidations == 1
        assert observed.counts["error", "redis", "invalidate"] >= 1
        await a.invalidate(["t"])  # deduplicated
        assert a.health().pending_invalidations == 1

        # While pending, A does not trust Redis (which still holds v1): it loads.
        got = await a.get_or_load("k", ["t"], load_v2)
        assert (got.source, got.entry.body) == (Source.MISS, b"v2")

        await proxy.set_mode(Mode.FORWARD)
        # The next contact with Redis (here the listener's reconnect or a read) flushes first.
        await eventually(lambda: a.health().pending_invalidations == 0, within=3)
        await eventually(lambda: b.peek("k") is None, within=2)
        fresh = await b.get_or_load("k", ["t"], load_v2)
        assert (fresh.source, fresh.entry.body) == (Source.MISS, b"v2")
        assert a.health().redis_ok
        await a.aclose()


async def test_read_path_flushes_pending_before_reading(make_cache: CacheFactory) -> None:
    """No listener (never started), so only the read path can flush; Redis keeps v1 throughout,
    so a read that trusted Redis before flushing would return it."""
    async with FaultProxy("127.0.0.1", 6379) as proxy:
        reader = await make_cache(
            url=f"redis://127.0.0.1:{proxy.port}/0",
            start=False,
            breaker=Breaker(failure_threshold=1, open_for=0.1),
        )
        await reader.get_or_load("k", ["t"], load_v1)
        await proxy.set_mode(Mode.REFUSE)
        await reader.invalidate(["t"])
        assert reader.health().pending_invalidations == 1
        assert reader.health().breaker == "open"

        await proxy.set_mode(Mode.FORWARD)
        await asyncio.sleep(0.15)  # past the breaker's open period: the next read probes
        got = await reader.get_or_load("k", ["t"], load_v2)
        assert (got.source, got.entry.body) == (Source.MISS, b"v2")
        assert reader.health().pending_invalidations == 0
        assert reader.health().breaker == "closed"
        await reader.aclose()
