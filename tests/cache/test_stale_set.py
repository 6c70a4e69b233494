"""The stale-set race: a load that read the database before a write committed must not be able
to store its result after the write's invalidation, in memory or in Redis."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from cache import Loaded, ReadThroughCache, Source
from tests.cache.conftest import CacheFactory, eventually

pytestmark = pytest.mark.asyncio(loop_scope="session")


class PausedLoader:
    """Reads the 'database', then waits to be released before returning what it read."""

    def __init__(self, db: dict[str, bytes], key: str) -> None:
        self.db = db
        self.key = key
        self.has_read = asyncio.Event()
        self.release = asyncio.Event()
        self.pause = True

    async def __call__(self) -> Loaded:
        value = self.db[self.key]  # the "DB read"
        if self.pause:
            self.has_read.set()
            await self.release.wait()
        return Loaded(value)


async def reachable_bodies(redis: Redis, prefix: str, key: str, tags: list[str]) -> list[bytes]:
    """Bodies stored under the generations a reader would use now."""
    names = [f"{prefix}:G", *(f"{prefix}:g:{t}" for t in tags)]
    gens = [await redis.get(name) for name in names]
    suffix = ".".join(g.decode() if isinstance(g, bytes) else "0" for g in gens)
    raw = await redis.get(f"{prefix}:v:{key}:{suffix}")
    if raw is None:
        return []
    assert isinstance(raw, bytes)
    return [raw[20 + raw[19] :]]  # skip the header and the etag: the body


async def run_race(
    reader: ReadThroughCache, writer: ReadThroughCache, redis: Redis, prefix: str
) -> None:
    db = {"k": b"old"}
    loader = PausedLoader(db, "k")
    pending = asyncio.create_task(reader.get_or_load("k", ["t"], loader))
    await asyncio.wait_for(loader.has_read.wait(), 2)

    db["k"] = b"new"  # the write commits...
    await writer.invalidate(["t"])  # ...and is acknowledged once this returns
    if reader is not writer:
        # The reader's instance learns of it through the channel (bounded, measured elsewhere).
        await eventually(lambda: reader.health().loads_in_flight == 0, within=2)
    loader.release.set()
    first = await asyncio.wait_for(pending, 2)
    assert first.entry.body == b"old"  # it began before the write: allowed to see it

    # After release: neither memory nor Redis holds the old value.
    hit = reader.peek("k")
    assert hit is None or hit.entry.body == b"new"
    assert b"old" not in await reachable_bodies(redis, prefix, "k", ["t"])

    loader.pause = False
    for cache in (reader, writer):
        fresh = await cache.get_or_load("k", ["t"], loader)
        assert fresh.entry.body == b"new"
        assert fresh.source is not Source.STALE


async def test_stale_set_same_instance(
    make_cache: CacheFactory, redis_client: Redis, prefix: str
) -> None:
    cache = await make_cache()
    await run_race(cache, cache, redis_client, prefix)


async def test_stale_set_across_instances(
    make_cache: CacheFactory, redis_client: Redis, prefix: str
) -> None:
    reader, writer = await make_cache(), await make_cache()
    await run_race(reader, writer, redis_client, prefix)


async def test_stale_set_memory_only(make_cache: CacheFactory) -> None:
    cache = await make_cache(url=None)
    db = {"k": b"old"}
    loader = PausedLoader(db, "k")
    pending = asyncio.create_task(cache.get_or_load("k", ["t"], loader))
    await asyncio.wait_for(loader.has_read.wait(), 2)
    db["k"] = b"new"
    await cache.invalidate(["t"])
    loader.release.set()
    await pending
    assert cache.peek("k") is None


async def test_redis_store_is_refused_when_generations_moved(
    make_cache: CacheFactory, redis_client: Redis, prefix: str
) -> None:
    """Without any memory layer, only the generation check stands between the old value and
    Redis: an invalidation from another instance lands while this one's load is paused."""
    reader = await make_cache(memory=None)
    writer = await make_cache()
    db = {"k": b"old"}
    loader = PausedLoader(db, "k")
    pending = asyncio.create_task(reader.get_or_load("k", ["t"], loader))
    await asyncio.wait_for(loader.has_read.wait(), 2)
    db["k"] = b"new"
    await writer.invalidate(["t"])
    loader.release.set()
    await pending
    assert await reachable_bodies(redis_client, prefix, "k", ["t"]) == []
    stored = [k async for k in redis_client.scan_iter(match=f"{prefix}:v:*")]
    assert stored == []  # the store was refused outright, not written under old generations
