"""The cache on a real three-node Redis Cluster (cluster mode): every script in one slot, the
entries spread over every node, sharded pub/sub carrying invalidations, acks and the lease's
PONGs, and the stale-set guard and the write barrier holding as on one node."""

from __future__ import annotations

import asyncio
import functools
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest
from redis.asyncio import Redis
from redis.crc import key_slot

from cache import Breaker, Loaded, MemoryLayer, ReadThroughCache, RedisLayer, Source
from cache.keyspace import Keyspace
from tests.cache.conftest import FAST_CHANNEL, TIMEOUT, RecordingObserver, eventually
from tests.support.redis_cluster import redis_cluster

GROUPS = 16
MakeCache = Callable[..., Awaitable[ReadThroughCache]]


@pytest.fixture(scope="module")
def cluster_ports() -> Iterator[list[int]]:
    with redis_cluster(3) as ports:
        yield ports


@pytest.fixture
async def cluster_cache(cluster_ports: list[int]) -> AsyncIterator[MakeCache]:
    prefix = f"t-{uuid.uuid4().hex[:12]}"
    made: list[ReadThroughCache] = []

    async def make(observer: RecordingObserver | None = None) -> ReadThroughCache:
        # Any node will do: the client learns the slot map from it.
        url = f"redis://127.0.0.1:{random.choice(cluster_ports)}"
        cache = ReadThroughCache(
            memory=MemoryLayer(max_bytes=1 << 20),
            redis=RedisLayer.from_url(url, prefix=prefix, timeout=TIMEOUT, cluster_groups=GROUPS),
            observer=observer or RecordingObserver(),
            fresh_ttl=60.0,
            stale_window=300.0,
            channel=FAST_CHANNEL,
            breaker=Breaker(failure_threshold=3, open_for=0.5),
        )
        made.append(cache)
        await cache.start()
        assert await cache.wait_connected(5.0), "sharded invalidation channel did not come up"
        return cache

    try:
        yield make
    finally:
        for cache in made:
            await cache.aclose()


def _held(cache: ReadThroughCache, key: str) -> bool:
    return cache.peek(key) is not None


def test_every_script_touches_one_slot() -> None:
    keys = Keyspace("hh", groups=GROUPS)
    rng = random.Random(7)
    for n in range(500):
        key = f"listing:{uuid.UUID(int=rng.getrandbits(128))}"
        tags = [f"l:{n}", "listings", f"c:{rng.randrange(50)}"]
        names = [*keys.gen_keys(key, tags), keys.value_base(key) + "1.2.3"]
        assert len({key_slot(name.encode()) for name in names}) == 1, names
    for group in keys.bumps(["categories", "c:x"], everything=True):
        assert len({key_slot(name.encode()) for name in group}) == 1, group
    control = [keys.channel, keys.registry, keys.ack_channel("a"), keys.ack_channel("b")]
    assert len({key_slot(name.encode()) for name in control}) == 1
    # ...and the groups really are different slots, or nothing would be spread.
    groups = {key_slot(group[0].encode()) for group in keys.bumps(["t"], everything=False)}
    assert len(groups) == GROUPS


async def test_entries_spread_over_every_node_and_are_read_back(
    cluster_ports: list[int], cluster_cache: MakeCache
) -> None:
    writer, reader = await cluster_cache(), await cluster_cache()
    for n in range(120):
        body = f"value {n}".encode()
        await writer.get_or_load(f"k{n}", [f"t{n % 7}"], functools.partial(_loaded, body))
    for port in cluster_ports:
        node = Redis(host="127.0.0.1", port=port)
        try:
            assert await node.dbsize() > 0, f"node {port} holds nothing"
        finally:
            await node.aclose()
    for n in range(0, 120, 11):
        found = await reader.get_or_load(f"k{n}", [f"t{n % 7}"], _unreachable)
        assert found.source is Source.REDIS
        assert found.entry.body == f"value {n}".encode()


async def test_a_write_is_acked_over_sharded_pubsub_and_no_node_serves_the_old_value(
    cluster_cache: MakeCache,
) -> None:
    observed = RecordingObserver()
    writer = await cluster_cache(observed)
    others = [await cluster_cache(), await cluster_cache()]
    keys = [f"page:{n}" for n in range(20)]
    for cache in (writer, *others):
        for key in keys:
            await cache.get_or_load(key, ["c:one"], lambda: _loaded(b"v1"))
        await eventually(functools.partial(_held, cache, keys[0]), within=2)

    for _ in range(3):
        await writer.invalidate(["c:one"])
        # Returned: every instance dropped its copies, and every group's generation moved.
        for cache in others:
            assert [cache.peek(key) for key in keys] == [None] * len(keys)
            again = await cache.get_or_load(keys[5], ["c:one"], lambda: _loaded(b"v2"))
            assert again.entry.body == b"v2"  # loaded afresh, or the copy another one stored
    outcomes = [outcome for _, outcome in observed.barriers]
    assert outcomes.count("acked") >= 2, outcomes


async def test_a_load_that_read_before_a_write_cannot_store_after_it(
    cluster_cache: MakeCache,
) -> None:
    reader, writer, third = await cluster_cache(), await cluster_cache(), await cluster_cache()
    has_read, release = asyncio.Event(), asyncio.Event()
    db = {"k": b"old"}

    async def paused() -> Loaded:
        value = db["k"]
        has_read.set()
        await release.wait()
        return Loaded(value)

    pending = asyncio.create_task(reader.get_or_load("k", ["t"], paused))
    await asyncio.wait_for(has_read.wait(), 2)
    db["k"] = b"new"
    await writer.invalidate(["t"])
    release.set()
    await pending
    # What the reader read before the write reached neither Redis nor its own memory.
    found = await third.get_or_load("k", ["t"], lambda: _loaded(db["k"]))
    assert found.source is Source.MISS
    assert found.entry.body == b"new"
    assert reader.peek("k") is None


async def _loaded(body: bytes) -> Loaded:
    return Loaded(body)


async def _unreachable() -> Loaded:
    raise AssertionError("the loader ran: the value should have come from the cluster")
