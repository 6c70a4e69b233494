"""A randomised linearizability-style check of read-after-write across two instances.

Writers bump a versioned in-memory "database" and then invalidate (through either instance);
readers on both instances record (start, end, version). No read, on either instance, may return
a version older than one acknowledged before the read began: an invalidation returns only once
the other instance acked it or its lease lapsed (cache.barrier). Loaders sleep between their DB
read and returning, to open stale-set windows.
"""

from __future__ import annotations

import asyncio
import bisect
import random
import time
from collections import Counter
from dataclasses import dataclass

import pytest

from cache import Loaded, MemoryLayer, ReadThroughCache
from tests.cache.conftest import CacheFactory, RecordingObserver

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.slow]

DURATION_S = 5.0
KEYS = [f"item:{i}" for i in range(4)]
READERS_PER_INSTANCE = 6
MAX_OPS_PER_TASK = 200_000  # every loop is bounded in count as well as time


@dataclass(frozen=True, slots=True)
class Read:
    instance: str
    key: str
    start: float
    end: float
    version: int


@dataclass
class Acks:
    times: list[float]
    versions: list[int]
    instances: list[str]


async def test_no_read_older_than_an_acknowledged_write(make_cache: CacheFactory) -> None:
    rng = random.Random(20240607)
    observers = {"A": RecordingObserver(), "B": RecordingObserver()}
    caches: dict[str, ReadThroughCache] = {
        name: await make_cache(observer=obs, memory=MemoryLayer(max_bytes=64 * 1024))
        for name, obs in observers.items()
    }
    db = dict.fromkeys(KEYS, 0)
    acks = {key: Acks([], [], []) for key in KEYS}
    reads: list[Read] = []
    deadline = time.monotonic() + DURATION_S

    def loader_for(key: str) -> Loaded | object:
        async def load() -> Loaded:
            version = db[key]  # the DB read
            await asyncio.sleep(rng.uniform(0, 0.003))  # the write may commit meanwhile
            return Loaded(str(version).encode())

        return load

    async def writer(key: str) -> None:
        for _ in range(MAX_OPS_PER_TASK):
            if time.monotonic() > deadline:
                return
            db[key] += 1  # commit...
            version = db[key]
            name = rng.choice("AB")
            await caches[name].invalidate([key])  # ...then acknowledge once this returns
            acks[key].times.append(time.monotonic())
            acks[key].versions.append(version)
            acks[key].instances.append(name)
            await asyncio.sleep(rng.uniform(0, 0.02))

    async def reader(name: str) -> None:
        cache = caches[name]
        for i in range(MAX_OPS_PER_TASK):
            if time.monotonic() > deadline:
                return
            key = rng.choice(KEYS)
            start = time.monotonic()
            got = await cache.get_or_load(key, [key], loader_for(key))  # type: ignore[arg-type]
            reads.append(Read(name, key, start, time.monotonic(), int(got.entry.body)))
            if i % 4 == 0:
                await asyncio.sleep(0)  # memory hits never yield: let writers and Redis run

    tasks = [writer(key) for key in KEYS]
    tasks += [reader(name) for name in caches for _ in range(READERS_PER_INSTANCE)]
    await asyncio.wait_for(asyncio.gather(*tasks), DURATION_S + 10)

    violations: list[str] = []
    for read in reads:
        log = acks[read.key]
        j = bisect.bisect_left(log.times, read.start) - 1
        # The newest ack before the read began (one writer per key: versions rise with it).
        if j >= 0 and log.versions[j] > read.version:
            lag = read.start - log.times[j]
            violations.append(
                f"{read} older than ack v{log.versions[j]} by {log.instances[j]} ({lag:.4f} s)"
            )

    writes = sum(len(a.times) for a in acks.values())
    loads = sum(o.counts["load", "ok"] for o in observers.values())
    delays = [d for o in observers.values() for d in o.delays]
    barriers = Counter(o for obs in observers.values() for _, o in obs.barriers)
    # Redis errors are allowed (a saturated loop can overrun the 50 ms bound; that exercises
    # the fail-open paths) but must not break the invariant; they are reported.
    errors = sum(o.errors() for o in observers.values())
    print(
        f"\nchecker: {len(reads)} reads, {writes} writes, {loads} loads, "
        f"channel delay max {max(delays, default=0) * 1000:.2f} ms, "
        f"redis errors {errors}, barriers {dict(barriers)}, violations {len(violations)}"
    )
    assert not violations, violations[:5]
    assert len(reads) > 10_000
    assert writes > 200
    assert loads > writes / 2  # invalidations really forced reloads
