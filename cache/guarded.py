"""Redis behind the breaker and the queue of invalidations it has not taken yet.

Every method fails open: errors are counted (observer + breaker) and reported as "no answer"
(None / False), never raised. Rule: while invalidations are pending, Redis is neither read
nor written by this instance; `ready()` flushes them first (see `cache.invalidation` for the
resulting bound on leftover stale data).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable

from cache.barrier import UNREGISTERED, Barrier, Barriers
from cache.breaker import Breaker
from cache.entry import Entry
from cache.errors import CacheBackendError
from cache.invalidation import PendingInvalidations, encode_message
from cache.observer import CacheObserver, Operation
from cache.redis_layer import RedisLayer, RedisRead


class GuardedRedis:
    def __init__(
        self,
        layer: RedisLayer,
        *,
        breaker: Breaker,
        observer: CacheObserver,
        origin: str,
        gen_ttl_ms: int,
        pending_limit: int,
        clock: Callable[[], float],
        lease: float,
        listed: Callable[[], bool] = lambda: False,
    ) -> None:
        """`listed()`: whether this instance believes Redis lists it as live right now."""
        self.layer = layer
        self.breaker = breaker
        self._observer = observer
        self._origin = origin
        self._gen_ttl_ms = gen_ttl_ms
        self._clock = clock
        self._lease = lease
        self._listed = listed
        self.pending = PendingInvalidations(limit=pending_limit)
        self.barriers = Barriers()
        # The newest flush that reached Redis: (the pending sequence it covered, its barrier).
        self._flushed: tuple[int, Barrier] | None = None
        self._flush_lock = asyncio.Lock()
        breaker.on_change(observer.breaker_state)

    @property
    def ok(self) -> bool:
        return self.breaker.state == "closed" and not self.pending

    async def ready(self) -> bool:
        """May this instance use Redis right now? Flushes pending invalidations first."""
        if self.pending:
            # While another task flushes, skip Redis rather than wait for it.
            return not self._flush_lock.locked() and await self.flush()
        return self.breaker.allow()

    async def read(self, key: str, tags: tuple[str, ...]) -> RedisRead | None:
        try:
            found = await self.layer.read(key, tags)
        except CacheBackendError:
            self._failed("get")
            return None
        self.breaker.success()
        if found.corrupt:
            self._observer.error("redis", "decode")
        return found

    async def store(
        self, key: str, tags: tuple[str, ...], gens: bytes, entry: Entry, *, ttl_ms: int
    ) -> None:
        if self.pending:
            return  # rule: no writes while our own invalidations are missing from Redis
        try:
            await self.layer.store(key, tags, gens, entry, ttl_ms=ttl_ms)
        except CacheBackendError:
            self._failed("set")
        else:
            self.breaker.success()

    async def invalidate(self, tags: Iterable[str]) -> Barrier | None:
        """Queue `tags` and flush; the barrier of a flush that carried them, or None if they
        are still waiting for Redis."""
        seq = self.pending.add(tags)
        await self.flush()
        flushed = self._flushed
        # The flush that carried them may have been another task's (they take everything
        # pending), and a newer one may have followed: its barrier covers ours too, since
        # each instance reads messages in order.
        return flushed[1] if flushed is not None and flushed[0] >= seq else None

    async def flush(self) -> bool:
        """Push pending invalidations (moving generations and publishing, in one script).
        True if none remain and Redis may be used."""
        async with self._flush_lock:
            if not self.pending:
                return self.breaker.allow()
            if not self.breaker.allow():
                return False
            covers = self.pending.seq
            tags, everything = self.pending.snapshot()
            barrier = self.barriers.open()  # before the script: see cache.barrier
            message = encode_message(
                sent_at=self._clock(),
                origin=self._origin,
                everything=bool(everything),
                tags=tags,
                write_id=barrier.write_id,
            )
            try:
                published = await self.layer.invalidate(
                    tuple(tags),
                    everything=bool(everything),
                    message=message,
                    gen_ttl_ms=self._gen_ttl_ms,
                    origin=self._origin,
                    listed=self._listed(),
                )
            except CacheBackendError:
                self.barriers.close(barrier)
                self._failed("invalidate")
                return False
            members = published.members - {self._origin}
            if published.receivers > len(published.members) or published.lost:
                # Someone subscribed is not registered (the registry was lost or evicted, an
                # instance of a version without acks, a stray subscriber), or the registry was
                # lost lately and an instance cut off since is not in it yet: nobody can vouch
                # for it, so wait out the lease as for a member that does not answer.
                members |= {UNREGISTERED}
            # Read after the reply arrived: a later start only makes the wait longer.
            barrier.arm(members, deadline=time.monotonic() + self._lease)
            self._flushed = (covers, barrier)
            self.breaker.success()
            self.pending.done(tags, everything)
            return not self.pending

    async def aclose(self) -> None:
        if self.pending:
            await self.flush()  # last chance, bounded by the Redis timeout
        try:
            await self.layer.deregister(self._origin)  # writers stop waiting for us at once
        except CacheBackendError:
            self._observer.error("redis", "register")  # it expires on its own
        await self.layer.aclose()

    def _failed(self, operation: Operation) -> None:
        self._observer.error("redis", operation)
        self.breaker.failure()
