"""Fixtures for the cache tests: the shared Redis under a unique prefix per test, a recording
observer (a fake of our own Protocol), cache factories, and a private redis-server to kill."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import pytest
from redis.asyncio import Redis

from cache import (
    Breaker,
    ChannelSettings,
    MemoryLayer,
    ReadThroughCache,
    RedisLayer,
)
from tests.support import infra

SHARED_REDIS = "redis://127.0.0.1:6379/0"
# The Redis layer's per-call bound in these tests: production uses 50 ms, but on a loaded
# 2-core machine a healthy Redis can take longer, and these tests are about behaviour.
TIMEOUT = 0.25
FAST_CHANNEL = ChannelSettings(
    ping_interval=0.1, dead_after=0.4, backoff_min=0.02, backoff_max=0.2, lease=0.05
)


@dataclass
class RecordingObserver:
    counts: Counter[tuple[str, ...]] = field(default_factory=Counter)
    delays: list[float] = field(default_factory=list)
    barriers: list[tuple[float, str]] = field(default_factory=list)
    lapses: int = 0
    breaker_states: list[str] = field(default_factory=list)
    evicted: int = 0

    def hit(self, layer: str) -> None:
        self.counts["hit", layer] += 1

    def miss(self, layer: str) -> None:
        self.counts["miss", layer] += 1

    def error(self, layer: str, operation: str) -> None:
        self.counts["error", layer, operation] += 1

    def eviction(self, layer: str, count: int) -> None:
        self.evicted += count

    def load_finished(self, seconds: float, outcome: str) -> None:
        self.counts["load", outcome] += 1

    def stale_served(self, layer: str) -> None:
        self.counts["stale", layer] += 1

    def breaker_state(self, state: str) -> None:
        self.breaker_states.append(state)

    def invalidation_delay(self, seconds: float) -> None:
        self.delays.append(seconds)

    def barrier_finished(self, seconds: float, outcome: str) -> None:
        self.barriers.append((seconds, outcome))

    def lease_lapsed(self) -> None:
        self.lapses += 1

    def cut_off(self, event: str) -> None:
        self.counts["cut_off", event] += 1

    def errors(self) -> int:
        return sum(n for name, n in self.counts.items() if name[0] == "error")


class CacheFactory(Protocol):
    def __call__(
        self,
        *,
        url: str | None = ...,
        prefix: str | None = ...,
        observer: RecordingObserver | None = ...,
        wait: bool = ...,
        start: bool = ...,
        **options: Any,
    ) -> Awaitable[ReadThroughCache]: ...


@pytest.fixture
def prefix() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
@infra.needs(infra.REDIS)
async def redis_client(prefix: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(SHARED_REDIS)
    try:
        yield client
    finally:
        # The Redis is shared with other suites: leave nothing behind under our prefix.
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture
async def make_cache(prefix: str, redis_client: Redis) -> AsyncIterator[CacheFactory]:
    made: list[ReadThroughCache] = []

    async def factory(
        *,
        url: str | None = SHARED_REDIS,
        prefix: str | None = prefix,
        observer: RecordingObserver | None = None,
        wait: bool = True,
        start: bool = True,
        **options: Any,
    ) -> ReadThroughCache:
        options.setdefault("memory", MemoryLayer(max_bytes=1 << 20))
        options.setdefault("fresh_ttl", 60.0)
        options.setdefault("stale_window", 300.0)
        options.setdefault("channel", FAST_CHANNEL)
        options.setdefault("breaker", Breaker(failure_threshold=3, open_for=0.5))
        redis = None
        if url is not None:
            assert prefix is not None
            redis = RedisLayer.from_url(url, prefix=prefix, timeout=TIMEOUT)
        cache = ReadThroughCache(redis=redis, observer=observer or RecordingObserver(), **options)
        made.append(cache)
        if not start:
            return cache
        await cache.start()
        if url is not None and wait:
            assert await cache.wait_connected(5.0), "invalidation channel did not come up"
        return cache

    try:
        yield factory
    finally:
        for cache in made:
            await cache.aclose()


async def eventually(
    predicate: Callable[[], bool], *, within: float = 3.0, step: float = 0.01
) -> float:
    """Wait until `predicate()` holds; returns the seconds it took. Bounded by `within`."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > within:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(step)
    return time.monotonic() - started


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PrivateRedis:
    """A redis-server of our own, so a test can stop and restart it."""

    def __init__(self) -> None:
        self.port = free_port()
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None, "redis-server must be on PATH"
        argv = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no"]  # fmt: skip
        self._proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 5
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return
            if time.monotonic() > deadline:
                raise RuntimeError("private redis-server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(timeout=5)
            self._proc = None


@pytest.fixture
@infra.needs(infra.REDIS)
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()
