"""Lookup order, the stored format, negative caching and stale-if-error, against real Redis."""

from __future__ import annotations

import asyncio
import struct

import pytest
from redis.asyncio import Redis

from cache import Loaded, MemoryLayer, Source
from cache.entry import compute_etag
from tests.cache.conftest import CacheFactory, RecordingObserver

pytestmark = pytest.mark.asyncio(loop_scope="session")


class SourceDown(Exception):
    pass


class Counting:
    """A loader that returns the current `body` and counts its calls."""

    def __init__(self, body: bytes = b"v1") -> None:
        self.body = body
        self.calls = 0
        self.fail = False

    async def __call__(self) -> Loaded:
        self.calls += 1
        if self.fail:
            raise SourceDown("the database is down")
        return Loaded(self.body)


async def test_lookup_order_memory_then_redis_then_loader(make_cache: CacheFactory) -> None:
    obs_a, obs_b = RecordingObserver(), RecordingObserver()
    a = await make_cache(observer=obs_a)
    b = await make_cache(observer=obs_b)
    load = Counting(b"hello")

    first = await a.get_or_load("k", ["t"], load)
    assert (first.source, first.entry.body, load.calls) == (Source.MISS, b"hello", 1)
    assert first.entry.etag == compute_etag(b"hello")

    again = await a.get_or_load("k", ["t"], load)
    assert again.source is Source.MEMORY
    assert load.calls == 1
    assert a.peek("k") == again

    # Another instance finds it in Redis and copies it into its memory.
    assert b.peek("k") is None
    shared = await b.get_or_load("k", ["t"], load)
    assert (shared.source, shared.entry, load.calls) == (Source.REDIS, first.entry, 1)
    peeked = b.peek("k")
    assert peeked is not None
    assert peeked.source is Source.MEMORY
    assert obs_b.counts["hit", "redis"] == 1
    assert obs_b.counts["hit", "memory"] == 1
    assert obs_a.counts["miss", "redis"] == 1
    assert obs_a.errors() == 0


async def test_redis_value_is_header_etag_body(
    make_cache: CacheFactory, redis_client: Redis, prefix: str
) -> None:
    cache = await make_cache()
    body = b'{"not": "parsed"}'
    await cache.get_or_load("item:1", ["b", "a"], Counting(body))

    keys = [k async for k in redis_client.scan_iter(match=f"{prefix}:v:*")]
    # Tags sorted; "0" generations for the global slot and both tags.
    assert keys == [f"{prefix}:v:item:1:0.0.0".encode()]
    raw = await redis_client.get(keys[0])
    assert isinstance(raw, bytes)
    version, status, stored_at, fresh_until, etag_len, count = struct.unpack_from("!BHddBB", raw)
    etag = compute_etag(body).encode()
    assert (version, status, etag_len, count) == (2, 200, len(etag), 0)
    assert fresh_until - stored_at == pytest.approx(60.0)
    assert raw[21:] == etag + body  # the body is stored as is, never re-encoded
    ttl_ms = await redis_client.pttl(keys[0])
    assert 300_000 < ttl_ms <= 360_000  # fresh TTL + stale window


async def test_custom_etag_is_kept(make_cache: CacheFactory) -> None:
    cache = await make_cache()

    async def load() -> Loaded:
        return Loaded(b"x", etag='"v7"')

    assert (await cache.get_or_load("k", ["t"], load)).entry.etag == '"v7"'


async def test_negative_entry_is_cached_until_its_tag_is_invalidated(
    make_cache: CacheFactory,
) -> None:
    cache = await make_cache()
    rows: dict[str, bytes] = {}
    calls = 0

    async def load() -> Loaded:
        nonlocal calls
        calls += 1
        if "new" not in rows:
            return Loaded(b'{"title":"Not Found"}', status=404, ttl=30.0)
        return Loaded(rows["new"])

    missing = await cache.get_or_load("slug:new", ["slug:new"], load)
    assert missing.entry.status == 404
    assert missing.entry.fresh_until - missing.entry.stored_at == pytest.approx(30.0)
    assert (await cache.get_or_load("slug:new", ["slug:new"], load)).source is Source.MEMORY
    assert calls == 1

    rows["new"] = b"created"  # a create commits, then invalidates the tag the 404 carried
    await cache.invalidate(["slug:new"])
    found = await cache.get_or_load("slug:new", ["slug:new"], load)
    assert (found.source, found.entry.status, found.entry.body) == (Source.MISS, 200, b"created")


async def test_stale_if_error_serves_memory_copy(make_cache: CacheFactory) -> None:
    clock = FakeClock()
    obs = RecordingObserver()
    cache = await make_cache(url=None, observer=obs, clock=clock, stale_on=(SourceDown,))
    load = Counting(b"old")
    await cache.get_or_load("k", ["t"], load)
    clock.now += 61  # past fresh_until, within the stale window
    assert cache.peek("k") is None
    load.fail = True
    served = await cache.get_or_load("k", ["t"], load)
    assert (served.source, served.entry.body) == (Source.STALE, b"old")
    assert obs.counts["stale", "memory"] == 1
    assert obs.counts["load", "error"] == 1

    clock.now += 300  # past the stale window too: nothing to serve
    with pytest.raises(SourceDown):
        await cache.get_or_load("k", ["t"], load)


async def test_stale_if_error_serves_redis_copy(make_cache: CacheFactory) -> None:
    clock = FakeClock()
    a = await make_cache(clock=clock)
    obs = RecordingObserver()
    b = await make_cache(clock=clock, observer=obs, stale_on=(SourceDown,))
    await a.get_or_load("k", ["t"], Counting(b"old"))
    clock.now += 61
    down = Counting()
    down.fail = True
    served = await b.get_or_load("k", ["t"], down)
    assert (served.source, served.entry.body) == (Source.STALE, b"old")
    assert obs.counts["stale", "redis"] == 1


async def test_errors_not_in_stale_on_propagate(make_cache: CacheFactory) -> None:
    clock = FakeClock()
    cache = await make_cache(clock=clock, stale_on=(SourceDown,))
    await cache.get_or_load("k", ["t"], Counting())
    clock.now += 61

    async def broken() -> Loaded:
        raise KeyError("a bug, not an outage")

    with pytest.raises(KeyError):
        await cache.get_or_load("k", ["t"], broken)


async def test_invalidated_entry_is_never_served_stale(make_cache: CacheFactory) -> None:
    clock = FakeClock()
    cache = await make_cache(clock=clock, stale_on=(SourceDown,))
    other = await make_cache(clock=clock, stale_on=(SourceDown,))
    await cache.get_or_load("k", ["t"], Counting(b"old"))
    await other.get_or_load("k", ["t"], Counting(b"old"))  # a Redis hit on the other one
    await cache.invalidate(["t"])
    clock.now += 61
    down = Counting()
    down.fail = True
    for instance in (cache, other):
        with pytest.raises(SourceDown):
            await instance.get_or_load("k", ["t"], down)


async def test_memory_only_cache_works_without_redis(make_cache: CacheFactory) -> None:
    cache = await make_cache(url=None, memory=MemoryLayer(max_bytes=4096))
    load = Counting()
    await cache.get_or_load("k", ["t"], load)
    assert (await cache.get_or_load("k", ["t"], load)).source is Source.MEMORY
    await cache.invalidate(["t"])
    assert (await cache.get_or_load("k", ["t"], load)).source is Source.MISS
    assert load.calls == 2
    assert cache.health().redis_configured is False


async def test_bad_keys_and_tags_are_refused(make_cache: CacheFactory) -> None:
    cache = await make_cache(url=None)
    with pytest.raises(ValueError, match="newline"):
        await cache.get_or_load("a\nb", ["t"], Counting())
    with pytest.raises(ValueError, match="not one string"):
        await cache.invalidate("tag")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_lookup_age_grows(make_cache: CacheFactory) -> None:
    cache = await make_cache(url=None)
    got = await cache.get_or_load("k", ["t"], Counting())
    await asyncio.sleep(0.02)
    assert got.age >= 0.02


async def test_stale_copy_read_before_an_invalidation_is_not_served(
    make_cache: CacheFactory,
) -> None:
    """The Redis stale copy was read before the write's invalidation landed; the loader then
    fails. Serving that copy would serve invalidated data."""
    clock = FakeClock()
    writer = await make_cache(clock=clock)
    reader = await make_cache(clock=clock, memory=None, stale_on=(SourceDown,))
    await writer.get_or_load("k", ["t"], Counting(b"old"))
    clock.now += 61  # the Redis copy is stale now
    entered, proceed = asyncio.Event(), asyncio.Event()

    async def failing_after_write() -> Loaded:
        entered.set()
        await proceed.wait()
        raise SourceDown("the database is down")

    pending = asyncio.create_task(reader.get_or_load("k", ["t"], failing_after_write))
    await asyncio.wait_for(entered.wait(), 2)
    await reader.invalidate(["t"])
    proceed.set()
    with pytest.raises(SourceDown):
        await pending
