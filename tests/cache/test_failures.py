"""The cache fails open: Redis dead, black-holed or stopped costs at most a bounded delay, and
the breaker keeps an outage from adding the timeout to every request."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from cache import Breaker, Loaded, ReadThroughCache, Source
from tests.cache.conftest import (
    FAST_CHANNEL,
    TIMEOUT,
    CacheFactory,
    PrivateRedis,
    RecordingObserver,
    free_port,
)
from tests.support.faultproxy import FaultProxy, Mode

pytestmark = pytest.mark.asyncio(loop_scope="session")

Outage = Callable[[], Awaitable[None]]


async def load_body() -> Loaded:
    return Loaded(b"from the source")


@pytest.fixture(params=["dead_port", "blackhole", "stopped"])
async def broken(
    request: pytest.FixtureRequest, private_redis: PrivateRedis
) -> AsyncIterator[tuple[str, Outage]]:
    """(url, break_it): a Redis URL that works until break_it() is awaited."""
    async with FaultProxy("127.0.0.1", private_redis.port) as proxy:
        if request.param == "dead_port":

            async def dead() -> None:
                pass  # never worked

            yield f"redis://127.0.0.1:{free_port()}/0", dead
        elif request.param == "blackhole":

            async def blackhole() -> None:
                await proxy.set_mode(Mode.BLACKHOLE)

            yield f"redis://127.0.0.1:{proxy.port}/0", blackhole
        else:

            async def stop() -> None:
                private_redis.stop()

            yield private_redis.url, stop


async def timed(cache: ReadThroughCache, key: str) -> tuple[float, Source]:
    started = time.monotonic()
    got = await cache.get_or_load(key, ["t"], load_body)
    assert got.entry.body == b"from the source"
    return time.monotonic() - started, got.source


async def test_reads_fail_open_bounded_then_breaker_skips_redis(
    make_cache: CacheFactory, broken: tuple[str, Outage]
) -> None:
    url, break_it = broken
    observed = RecordingObserver()
    cache = await make_cache(
        url=url,
        observer=observed,
        wait=False,
        breaker=Breaker(failure_threshold=3, open_for=30.0),
    )
    await break_it()

    # Until the breaker opens, each read pays at most about one Redis timeout.
    for i in range(3):
        elapsed, source = await timed(cache, f"cold:{i}")
        assert source is Source.MISS
        assert elapsed < TIMEOUT * 3, f"read {i} took {elapsed:.3f} s"
    assert observed.counts["error", "redis", "get"] == 3
    assert cache.health().breaker == "open"
    assert "open" in observed.breaker_states

    # Open: 100 cold reads do not touch Redis at all.
    started = time.monotonic()
    for i in range(100):
        _, source = await timed(cache, f"open:{i}")
        assert source is Source.MISS
    assert time.monotonic() - started < 100 * TIMEOUT / 10
    assert observed.counts["error", "redis", "get"] == 3

    # No channel, no lease: memory is not served, since a write elsewhere would go unheard;
    # only what this process read in the last lease (cache.recent), and open:0 is older.
    await asyncio.sleep(FAST_CHANNEL.lease)
    assert cache.peek("open:0") is None
    assert not cache.health().lease_valid
    # Invalidation does not raise; the write waits one lease (nobody can be asked) and goes on.
    started = time.monotonic()
    await cache.invalidate(["t"])
    assert time.monotonic() - started < TIMEOUT * 3
    assert [outcome for _, outcome in observed.barriers] == ["redis_down"]
    assert observed.barriers[0][0] >= FAST_CHANNEL.lease
    assert cache.health().pending_invalidations == 1
    assert not cache.redis_ok()


async def test_half_open_probe_closes_breaker_when_redis_returns(
    make_cache: CacheFactory,
) -> None:
    async with FaultProxy("127.0.0.1", 6379) as proxy:
        observed = RecordingObserver()
        cache = await make_cache(
            url=f"redis://127.0.0.1:{proxy.port}/0",
            observer=observed,
            breaker=Breaker(failure_threshold=2, open_for=0.2),
        )
        await proxy.set_mode(Mode.BLACKHOLE)
        for i in range(2):
            await timed(cache, f"a:{i}")
        assert cache.health().breaker == "open"
        await proxy.set_mode(Mode.FORWARD)
        await asyncio.sleep(0.25)  # past open_for: the next read is the half-open probe
        _, source = await timed(cache, "b")
        assert source is Source.MISS
        assert cache.health().breaker == "closed"
        assert observed.breaker_states[-2:] == ["half_open", "closed"]
        await cache.get_or_load("b2", ["t"], load_body)
        other = await make_cache()
        hit = await other.get_or_load("b2", ["t"], load_body)
        assert hit.source is Source.REDIS  # the recovered instance stores to Redis again
        await cache.aclose()
