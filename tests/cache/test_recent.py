"""Without a lease (Redis cut off), a process serves from memory what it read itself, for one
lease after the read began and never longer, never past its registration cap, and never
after an invalidation of its tags."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from redis.asyncio import Redis

from cache import Breaker, Loaded, ReadThroughCache, Source
from tests.cache.conftest import (
    FAST_CHANNEL,
    CacheFactory,
    PrivateRedis,
    RecordingObserver,
    eventually,
)
from tests.support.faultproxy import FaultProxy, Mode


def _loader(loads: list[int]) -> Callable[[], Awaitable[Loaded]]:
    async def load() -> Loaded:
        loads.append(1)
        return Loaded(b"v%d" % len(loads))

    return load


@pytest.fixture
async def cut_off(make_cache: CacheFactory) -> AsyncIterator[tuple[ReadThroughCache, list[int]]]:
    """A cache that held a lease, then lost Redis (black-holed); and its loads so far."""
    async with FaultProxy("127.0.0.1", 6379) as proxy:
        cache = await make_cache(
            url=f"redis://127.0.0.1:{proxy.port}/0",
            breaker=Breaker(failure_threshold=1, open_for=30.0),
        )
        assert cache.health().lease_valid
        await proxy.set_mode(Mode.BLACKHOLE)
        await eventually(lambda: not cache.health().lease_valid, within=2.0)
        loads: list[int] = []
        await cache.get_or_load("warm", ["w"], _loader(loads))  # opens the breaker
        loads.clear()
        yield cache, loads


async def test_a_read_is_kept_for_one_lease_after_it_began_and_no_longer(
    cut_off: tuple[ReadThroughCache, list[int]],
) -> None:
    cache, loads = cut_off
    assert not cache.health().lease_valid
    first = await cache.get_or_load("k", ["t"], _loader(loads))
    assert first.source is Source.MISS
    again = await cache.get_or_load("k", ["t"], _loader(loads))
    assert (again.source, again.entry.body) == (Source.MEMORY, first.entry.body)
    assert len(loads) == 1
    await asyncio.sleep(FAST_CHANNEL.lease)
    assert cache.peek("k") is None  # one lease after the read began: gone
    later = await cache.get_or_load("k", ["t"], _loader(loads))
    assert later.source is Source.MISS
    assert len(loads) == 2


async def test_an_invalidation_drops_what_was_kept(
    cut_off: tuple[ReadThroughCache, list[int]],
) -> None:
    cache, loads = cut_off
    await cache.get_or_load("k", ["t"], _loader(loads))
    assert cache.peek("k") is not None
    await cache.invalidate(["t"])  # Redis is gone: applied here, queued for Redis
    assert cache.peek("k") is None
    assert (await cache.get_or_load("k", ["t"], _loader(loads))).source is Source.MISS


async def test_nothing_is_kept_past_the_registration_cap(make_cache: CacheFactory) -> None:
    # A registry TTL so short that the cap (half of it past the last registration) passes
    # before the lease would: from then on Redis may have dropped this process, and a writer
    # would not wait for it.
    channel = dataclasses.replace(FAST_CHANNEL, registry_ttl=0.4)
    async with FaultProxy("127.0.0.1", 6379) as proxy:
        cache = await make_cache(
            url=f"redis://127.0.0.1:{proxy.port}/0",
            channel=channel,
            breaker=Breaker(failure_threshold=1, open_for=30.0),
        )
        await proxy.set_mode(Mode.BLACKHOLE)
        await asyncio.sleep(channel.registry_ttl / 2)  # past the cap
        loads: list[int] = []
        await cache.get_or_load("warm", ["w"], _loader(loads))
        await cache.get_or_load("k", ["t"], _loader(loads))
        assert cache.peek("k") is None
        assert (await cache.get_or_load("k", ["t"], _loader(loads))).source is Source.MISS


async def test_a_registry_redis_lost_makes_writes_wait_out_the_lease_for_one_ttl(
    make_cache: CacheFactory, private_redis: PrivateRedis
) -> None:
    # A process cut off from Redis may serve its recent reads until its cap; if Redis loses
    # the registry meanwhile (a restart without persistence, a flush), writers must not take
    # its absence for an exit.
    channel = dataclasses.replace(FAST_CHANNEL, registry_ttl=1.0)
    observed = RecordingObserver()
    writer = await make_cache(url=private_redis.url, observer=observed, channel=channel)
    await writer.invalidate(["t"])
    assert observed.barriers[-1][1] == "acked"  # alone: nobody to wait for
    client = Redis.from_url(private_redis.url)
    try:
        await client.flushall()
        # The writer re-registers (every TTL / 5) and finds its registration gone.
        await asyncio.sleep(channel.registry_ttl / 2)
        assert [key async for key in client.scan_iter(match="*:instances:lost")]
    finally:
        await client.aclose()
    await writer.invalidate(["t"])
    seconds, outcome = observed.barriers[-1]
    assert outcome == "lease_expired"
    assert seconds >= channel.lease
    await asyncio.sleep(channel.registry_ttl)  # the mark lasts one TTL
    await writer.invalidate(["t"])
    assert observed.barriers[-1][1] == "acked"
