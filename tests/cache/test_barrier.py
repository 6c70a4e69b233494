"""The write barrier: acks from every registered instance, the lease for those that do not
answer, and the registry that says who must answer."""

from __future__ import annotations

import functools
import time

import pytest
from redis.asyncio import Redis

from cache import Loaded, ReadThroughCache
from tests.cache.conftest import (
    FAST_CHANNEL,
    TIMEOUT,
    CacheFactory,
    RecordingObserver,
    eventually,
)
from tests.support.faultproxy import FaultProxy, Mode

pytestmark = pytest.mark.asyncio(loop_scope="session")

LEASE = FAST_CHANNEL.lease


async def load_v1() -> Loaded:
    return Loaded(b"v1")


async def members(redis: Redis, prefix: str) -> set[str]:
    found = await redis.zrange(f"{prefix}:instances", 0, -1)
    return {member.decode() for member in found if isinstance(member, bytes)}


def _held(cache: ReadThroughCache) -> bool:
    return cache.peek("k") is not None


async def test_a_write_returns_once_every_instance_acked_and_none_serves_the_old_copy(
    make_cache: CacheFactory,
) -> None:
    observed = RecordingObserver()
    writer = await make_cache(observer=observed)
    others = [await make_cache() for _ in range(3)]
    for cache in (writer, *others):
        await cache.get_or_load("k", ["t"], load_v1)
        # Held under a lease: on a busy machine the next PONG may be a moment away.
        await eventually(functools.partial(_held, cache), within=2)

    for _ in range(5):
        await writer.invalidate(["t"])
        # Not "eventually": the write has returned, so every instance has dropped it.
        assert [cache.peek("k") for cache in others] == [None] * 3
        for cache in others:
            await cache.get_or_load("k", ["t"], load_v1)
    # Acks come back well before the lease would have run out (on a loaded machine one may
    # not, and then the write waits out the lease: just as correct, so only most must ack).
    outcomes = [outcome for _, outcome in observed.barriers]
    assert len(outcomes) == 5
    assert outcomes.count("acked") >= 3, outcomes
    assert sorted(seconds for seconds, _ in observed.barriers)[2] < LEASE


async def test_a_partitioned_instance_stops_serving_before_the_write_returns(
    make_cache: CacheFactory,
) -> None:
    async with FaultProxy("127.0.0.1", 6379) as proxy:
        observed = RecordingObserver()
        writer = await make_cache(observer=observed)
        cut_off = await make_cache(url=f"redis://127.0.0.1:{proxy.port}/0")
        await cut_off.get_or_load("k", ["t"], load_v1)
        await eventually(lambda: cut_off.peek("k") is not None, within=2)

        # Its pub/sub connection goes silent: it hears neither the message nor its PONGs, and
        # dead_after (0.4 s) is far from over, so it still believes the channel is up.
        await proxy.set_mode(Mode.BLACKHOLE)
        started = time.monotonic()
        await writer.invalidate(["t"])
        took = time.monotonic() - started
        assert cut_off.health().channel_connected
        assert cut_off.peek("k") is None  # its lease ran out before the write returned
        assert [outcome for _, outcome in observed.barriers] == ["lease_expired"]
        # Bounded: the script's round trip, then one lease.
        assert LEASE <= took < TIMEOUT + LEASE + 0.1, f"the write took {took:.3f} s"
        await cut_off.aclose()  # before the proxy goes away


async def test_a_stalled_instance_serves_nothing_until_a_pong_renews_its_lease(
    make_cache: CacheFactory,
) -> None:
    observed = RecordingObserver()
    cache = await make_cache(observer=observed)
    await cache.get_or_load("k", ["t"], load_v1)
    await eventually(lambda: cache.peek("k") is not None, within=2)
    # The event loop is blocked (a long GC, a CPU-bound request): the listener does not run.
    time.sleep(2 * LEASE)  # noqa: ASYNC251 (blocking the loop is the point)
    # Before it has run again, the entry is not served: an invalidation may be waiting.
    assert cache.peek("k") is None
    # Once a PONG is read, nothing was missed (the connection delivers in order): served again.
    await eventually(lambda: cache.peek("k") is not None, within=1, step=0.005)
    assert observed.lapses >= 1


async def test_a_registered_instance_that_never_answers_costs_one_lease(
    make_cache: CacheFactory, redis_client: Redis, prefix: str
) -> None:
    observed = RecordingObserver()
    writer = await make_cache(observer=observed)
    await writer.invalidate(["t"])
    registry = f"{prefix}:instances"
    far, past = int(time.time() * 1000) + 60_000, int(time.time() * 1000) - 1
    await redis_client.zadd(registry, {"silent": far, "expired": past})

    started = time.monotonic()
    await writer.invalidate(["t"])
    took = time.monotonic() - started
    assert [outcome for _, outcome in observed.barriers] == ["acked", "lease_expired"]
    assert LEASE <= took < TIMEOUT + LEASE + 0.1
    # The writer's script removed the expired member; the silent one stays until it expires.
    assert "expired" not in await members(redis_client, prefix)
    assert "silent" in await members(redis_client, prefix)


async def test_instances_register_before_listening_and_deregister_on_close(
    make_cache: CacheFactory, redis_client: Redis, prefix: str
) -> None:
    first = await make_cache()
    second = await make_cache()
    assert len(await members(redis_client, prefix)) == 2
    await second.aclose()
    assert len(await members(redis_client, prefix)) == 1
    await first.aclose()
    assert await members(redis_client, prefix) == set()


async def test_a_subscriber_missing_from_the_registry_costs_one_lease(
    make_cache: CacheFactory, redis_client: Redis, prefix: str
) -> None:
    """The registry lost (evicted, flushed) while another instance still listens: PUBLISH
    counts more receivers than members, so the writer cannot know who must answer."""
    observed = RecordingObserver()
    writer = await make_cache(observer=observed)
    other = await make_cache()
    await other.get_or_load("k", ["t"], load_v1)
    await redis_client.delete(f"{prefix}:instances")

    started = time.monotonic()
    await writer.invalidate(["t"])
    took = time.monotonic() - started
    assert other.peek("k") is None
    assert [outcome for _, outcome in observed.barriers] == ["lease_expired"]
    assert LEASE <= took < TIMEOUT + LEASE + 0.1
