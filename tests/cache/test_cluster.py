"""The cache on a real three-node Redis Cluster (cluster mode): every script in one slot, the
entries spread over every node, sharded pub/sub carrying invalidations, acks and the lease's
PONGs, and the stale-set guard and the write barrier holding as on one node."""

from __future__ import annotations

import asyncio
import functools
import random
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import pytest
from redis.asyncio import Redis
from redis.crc import key_slot

from cache import Breaker, Loaded, MemoryLayer, ReadThroughCache, RedisLayer, Source
from cache.keyspace import Keyspace
from tests.cache.conftest import FAST_CHANNEL, TIMEOUT, RecordingObserver, eventually
from tests.support import infra
from tests.support.redis_cluster import redis_cluster

GROUPS = 16


@pytest.fixture(scope="module")
@infra.needs(infra.REDIS)  # three redis-server processes of the module's own
def cluster_ports() -> Iterator[list[int]]:
    with redis_cluster(3) as ports:
        yield ports


@dataclass
class ClusterCaches:
    ports: list[int]
    prefix: str = field(default_factory=lambda: f"t-{uuid.uuid4().hex[:12]}")
    made: list[ReadThroughCache] = field(default_factory=list)

    async def __call__(self, observer: RecordingObserver | None = None) -> ReadThroughCache:
        # Any node will do: the client learns the slot map from it.
        url = f"redis://127.0.0.1:{random.choice(self.ports)}"
        cache = ReadThroughCache(
            memory=MemoryLayer(max_bytes=1 << 20),
            redis=RedisLayer.from_url(
                url, prefix=self.prefix, timeout=TIMEOUT, cluster_groups=GROUPS
            ),
            observer=observer or RecordingObserver(),
            fresh_ttl=60.0,
            stale_window=300.0,
            channel=FAST_CHANNEL,
            breaker=Breaker(failure_threshold=3, open_for=0.5),
        )
        self.made.append(cache)
        await cache.start()
        assert await cache.wait_connected(5.0), "sharded invalidation channel did not come up"
        return cache


@pytest.fixture
async def cluster_cache(cluster_ports: list[int]) -> AsyncIterator[ClusterCaches]:
    caches = ClusterCaches(cluster_ports)
    try:
        yield caches
    finally:
        for cache in caches.made:
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
    cluster_ports: list[int], cluster_cache: ClusterCaches
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
    cluster_cache: ClusterCaches,
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
    cluster_cache: ClusterCaches,
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


def _cli(port: int, *args: str) -> str:
    done = subprocess.run(
        ["redis-cli", "-h", "127.0.0.1", "-p", str(port), *args],
        capture_output=True, text=True, timeout=10, check=True,
    )  # fmt: skip
    return done.stdout.strip()


def _move_slot(ports: list[int], slot: int) -> int:
    """Move `slot` (and its keys) to another master, as a resharding does; the new owner."""
    ids = {port: _cli(port, "cluster", "myid") for port in ports}
    owner = _owner(ports[0], slot)
    source = next(port for port, node_id in ids.items() if node_id == owner)
    target = next(port for port in ports if port != source)
    _cli(target, "cluster", "setslot", str(slot), "importing", ids[source])
    _cli(source, "cluster", "setslot", str(slot), "migrating", ids[target])
    keys = _cli(source, "cluster", "getkeysinslot", str(slot), "1000").split()
    if keys:
        _cli(source, "migrate", "127.0.0.1", str(target), "", "0", "5000", "keys", *keys)
    for port in ports:
        _cli(port, "cluster", "setslot", str(slot), "node", ids[target])
    return target


async def _load_until_held(cache: ReadThroughCache, key: str, *, within: float = 10.0) -> None:
    """Load `key` until the in-process layer holds it. A resharding may end the subscription
    more than once (the client can ask the old owner again before its slot map catches up),
    and every drop discards what the layer held, so a single load could be lost to the next
    drop; the loop is bounded by `within`."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        await cache.get_or_load(key, ["t"], lambda: _loaded(b"v1"))
        try:
            await eventually(functools.partial(_held, cache, key), within=0.5)
            return
        except AssertionError:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{key} was never held within {within} s") from None


def _owner(port: int, slot: int) -> str:
    for line in _cli(port, "cluster", "nodes").splitlines():
        node_id, *_, ranges = line.split(maxsplit=8)
        for part in ranges.split():
            low, _, high = part.partition("-")
            if low.isdigit() and int(low) <= slot <= int(high or low):
                return node_id
    raise AssertionError(f"nobody serves slot {slot}")


async def test_a_moved_control_slot_ends_the_subscription_and_the_listener_follows_it(
    cluster_ports: list[int], cluster_cache: ClusterCaches
) -> None:
    observed = RecordingObserver()
    writer = await cluster_cache()
    other = await cluster_cache(observed)
    await _load_until_held(other, "k")
    assert other.health().channel_connected

    # Resharding moves the slot of the channel, the acks and the registry to another node.
    keys = Keyspace(cluster_cache.prefix, groups=GROUPS)
    _move_slot(cluster_ports, key_slot(keys.channel.encode()))
    # The old node ends the sharded subscription: the listener drops what it held (it could
    # have missed messages) and subscribes again where the slot lives now.
    await eventually(lambda: observed.counts["error", "redis", "subscribe"] > 0, within=5)
    await eventually(lambda: other.health().channel_connected, within=10)

    # A drop of the subscription also empties the layer: only a try that saw no drop shows
    # that the invalidation itself, carried over the moved slot, removed the entry.
    for _ in range(5):
        await _load_until_held(other, "k")
        drops = observed.counts["error", "redis", "subscribe"]
        await writer.invalidate(["t"])
        if observed.counts["error", "redis", "subscribe"] == drops:
            assert other.peek("k") is None
            break
    else:
        raise AssertionError("the subscription dropped during every one of 5 invalidations")
