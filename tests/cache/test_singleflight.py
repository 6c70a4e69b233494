"""No stampede: one load per key per process, shared by waiters, robust to cancellation."""

from __future__ import annotations

import asyncio

import pytest

from cache import Loaded, Source
from tests.cache.conftest import CacheFactory

pytestmark = pytest.mark.asyncio(loop_scope="session")


class Gate:
    """A loader that blocks until released, counting calls."""

    def __init__(self, body: bytes = b"v") -> None:
        self.body = body
        self.calls = 0
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self) -> Loaded:
        self.calls += 1
        self.entered.set()
        await self.release.wait()
        return Loaded(self.body)


async def test_500_concurrent_cold_reads_run_the_loader_once(make_cache: CacheFactory) -> None:
    cache = await make_cache()
    gate = Gate(b"cold")
    readers = [asyncio.create_task(cache.get_or_load("hot", ["t"], gate)) for _ in range(500)]
    await asyncio.wait_for(gate.entered.wait(), 2)
    await asyncio.sleep(0.01)  # let every reader arrive at the shared load
    gate.release.set()
    results = await asyncio.wait_for(asyncio.gather(*readers), 5)
    assert gate.calls == 1
    assert {r.entry.body for r in results} == {b"cold"}


async def test_cancelling_one_waiter_does_not_cancel_the_shared_load(
    make_cache: CacheFactory,
) -> None:
    cache = await make_cache()
    gate = Gate()
    first = asyncio.create_task(cache.get_or_load("k", ["t"], gate))
    await asyncio.wait_for(gate.entered.wait(), 2)
    second = asyncio.create_task(cache.get_or_load("k", ["t"], gate))
    await asyncio.sleep(0)
    first.cancel()  # the leader's own caller goes away
    with pytest.raises(asyncio.CancelledError):
        await first
    gate.release.set()
    result = await asyncio.wait_for(second, 2)
    assert (result.source, gate.calls) == (Source.MISS, 1)
    cached = cache.peek("k")
    assert cached is not None  # the load completed and was stored


async def test_a_failed_load_reaches_every_waiter_and_is_not_cached(
    make_cache: CacheFactory,
) -> None:
    cache = await make_cache()
    calls = 0
    release = asyncio.Event()

    async def failing() -> Loaded:
        nonlocal calls
        calls += 1
        await release.wait()
        raise RuntimeError("source failed")

    readers = [asyncio.create_task(cache.get_or_load("k", ["t"], failing)) for _ in range(20)]
    await asyncio.sleep(0.01)
    release.set()
    outcomes = await asyncio.gather(*readers, return_exceptions=True)
    assert calls == 1
    assert all(isinstance(o, RuntimeError) for o in outcomes)
    assert cache.peek("k") is None


async def test_invalidate_detaches_in_flight_loads(make_cache: CacheFactory) -> None:
    cache = await make_cache()
    old, new = Gate(b"old"), Gate(b"new")
    early = asyncio.create_task(cache.get_or_load("k", ["t"], old))
    await asyncio.wait_for(old.entered.wait(), 2)
    await cache.invalidate(["t"])
    # A reader arriving after the invalidation must not join the pre-write load.
    late = asyncio.create_task(cache.get_or_load("k", ["t"], new))
    await asyncio.wait_for(new.entered.wait(), 2)
    new.release.set()
    old.release.set()
    assert (await late).entry.body == b"new"
    assert (await early).entry.body == b"old"  # it began before the write: allowed
    hit = cache.peek("k")
    assert hit is not None
    assert hit.entry.body == b"new"
