"""The in-process budget bounds what the heap really holds: an item is counted by every object
it keeps (tracemalloc agrees), a process filled far past its budget grows by no more than 1.5x
the budget (measured as resident memory in a child process), and negative entries have a
bound of their own and a short life in both layers."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import tracemalloc

import pytest
from redis.asyncio import Redis

from cache import Entry, Loaded, MemoryLayer
from tests.cache.conftest import CacheFactory


def _listing(i: int) -> Entry:
    body = os.urandom(700)
    encodings = (("br", os.urandom(300)), ("gzip", os.urandom(360)))
    return Entry.build(body, status=200, now=0, ttl=300, encodings=encodings)


def _missing(i: int) -> Entry:
    body = (
        b'{"type":"about:blank","title":"Not Found","status":404,'
        b'"detail":"no listing has the id or slug \'unknown-%08d\'"}' % i
    )
    return Entry.build(body, status=404, now=0, ttl=30)


def _page(i: int) -> Entry:
    return Entry.build(os.urandom(40_000), status=200, now=0, ttl=300)


@pytest.mark.parametrize("make", [_listing, _missing, _page])
def test_an_item_is_counted_as_what_the_heap_grows_by(make: object) -> None:
    assert callable(make)
    entries = [make(i) for i in range(2000)]  # built first: only what the layer adds counts
    memory = MemoryLayer(max_bytes=1 << 40)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i, entry in enumerate(entries):
            key = f"listing.3:unknown-{i:08d}"
            memory.put(key, (f"l:unknown-{i:08d}",), entry, fresh_until=30, keep_until=30)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # The entries existed before they were stored: what they hold counts, but was allocated
    # before `before`; add it back from their own sizes.
    held = sum(
        sys.getsizeof(e.body)
        + sys.getsizeof(e.etag)
        + sum(sys.getsizeof(d) for _, d in e.encodings)
        for e in entries
    )
    real = grown + held
    assert 0.85 * real <= memory.bytes_used <= 1.3 * real, (memory.bytes_used, real)


def test_negative_entries_have_a_bound_of_their_own_and_push_out_no_positive_one() -> None:
    memory = MemoryLayer(max_bytes=4 << 20, negative_max_bytes=256 << 10)
    for i in range(200):
        stored, _ = memory.put(f"l:{i}", (f"l:{i}",), _listing(i), fresh_until=30, keep_until=30)
        assert stored
    positive = memory.bytes_used
    for i in range(20_000):
        memory.put(f"m:{i}", (f"m:{i}",), _missing(i), fresh_until=30, keep_until=30)
        assert memory.negative_bytes <= 256 << 10
    assert memory.bytes_used - memory.negative_bytes == positive
    assert all(memory.get_fresh(f"l:{i}", now=1) is not None for i in range(200))
    assert memory.get_fresh("m:19999", now=1) is not None
    assert memory.get_fresh("m:0", now=1) is None


@pytest.mark.redis
async def test_a_negative_entry_lives_no_longer_than_its_ttl_in_either_layer(
    make_cache: CacheFactory, redis_client: Redis, prefix: str
) -> None:
    cache = await make_cache(fresh_ttl=60.0, stale_window=3600.0)

    async def missing() -> Loaded:
        return Loaded(body=b'{"status":404}', status=404, ttl=2.0)

    async def found() -> Loaded:
        return Loaded(body=b'{"id":1}')

    await cache.get_or_load("listing.3:nobody", ["l:nobody"], missing)
    await cache.get_or_load("listing.3:somebody", ["l:somebody"], found)
    ttls = {}
    async for key in redis_client.scan_iter(match=f"{prefix}:v:*", count=1000):
        ttls[key.decode()] = await redis_client.pttl(key)
    negative = [ms for key, ms in ttls.items() if "nobody" in key]
    positive = [ms for key, ms in ttls.items() if "somebody" in key]
    assert len(negative) == 1
    assert len(positive) == 1, ttls
    assert 0 < negative[0] <= 2_000  # its TTL, not the stale window past it
    assert positive[0] > 3_600_000  # a found entry keeps the stale window


_FILL = textwrap.dedent(
    """
    import asyncio, gc, os, sys
    from cache import Loaded, MemoryLayer, NullObserver, ReadThroughCache

    BUDGET = int(sys.argv[1])

    def rss() -> int:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    async def listing() -> Loaded:
        return Loaded(
            body=os.urandom(700), encodings=(("br", os.urandom(300)), ("gzip", os.urandom(360)))
        )

    async def page() -> Loaded:
        return Loaded(body=os.urandom(30_000))

    async def missing() -> Loaded:
        detail = os.urandom(20).hex().encode()
        return Loaded(body=b'{"status":404,"detail":"%s"}' % detail, status=404, ttl=30)

    async def small() -> Loaded:
        return Loaded(body=b'{"id":"%s"}' % os.urandom(60).hex().encode())

    # Mostly small entries, where what an item holds beyond its bytes matters most, and
    # names that do not exist, which anyone can ask for without end.
    LOADERS = (small, small, small, small, missing, missing, listing)

    async def fill(budget: int, count: int) -> tuple[int, int]:
        cache = ReadThroughCache(
            memory=MemoryLayer(max_bytes=budget, negative_max_bytes=budget // 8),
            redis=None, observer=NullObserver(), fresh_ttl=300, stale_window=3600,
        )
        for i in range(count):
            await cache.get_or_load(f"k:{i}", [f"t:{i}", "all"], LOADERS[i % len(LOADERS)])
        gc.collect()
        grown, used = rss(), cache.health().memory_bytes  # while the cache is still held
        await cache.aclose()
        return grown, used

    async def main() -> None:
        await fill(1 << 20, 5000)  # warm up what every process has anyway: code paths, loop
        gc.collect()
        before = rss()
        after, used = await fill(BUDGET, 120_000)
        print(after - before, used)

    asyncio.run(main())
    """
)


@pytest.mark.subprocess
@pytest.mark.timeout(120)
def test_a_process_filled_past_its_budget_grows_by_at_most_one_and_a_half_budgets() -> None:
    budget = 16 << 20
    out = subprocess.run(
        [sys.executable, "-c", _FILL, str(budget)],
        capture_output=True,
        text=True,
        timeout=100,
        check=True,
    ).stdout
    grown, used = map(int, out.split())
    assert used <= budget
    assert grown <= 1.5 * budget, (
        f"RSS grew {grown / 2**20:.1f} MiB for a {budget >> 20} MiB budget"
    )
