"""The read-through cache: memory -> Redis -> loader, with invalidation by tag.

Ordering rules that make "no stale read after a write" and "no stale set" hold (see also
`cache.invalidation` for the bounds across instances and through a Redis outage):

1. A fill takes the local generation mark BEFORE its Redis read and its load, and stores into
   memory only if none of its tags moved since (`TagGenerations`); into Redis only with the
   generations it read before the load (the store script compares them).
2. `invalidate` drops local entries, moves the local generations and detaches in-flight loads
   before its first await; then moves the Redis generations and publishes, in one script; then
   does the local part again, because a read whose Redis script ran just before ours may have
   fetched the old value in between.
3. While invalidations are pending (Redis did not take them), this instance does not read or
   store Redis at all; they are flushed first.
4. With Redis configured, the in-process layer is served only under a lease (`cache.lease`),
   and `invalidate` returns only once every live instance acked it or the silent ones' leases
   have lapsed (`cache.barrier`): a read that starts anywhere after a write returned does not
   see pre-write data in memory. Without a lease, only what this process read itself in the
   last lease is served (`cache.recent` says why that keeps the bound).
5. A reader with a stale copy to fall back on waits `stale_after` for the key's load, then
   answers from the copy; the load goes on, and later readers join it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from time import monotonic
from types import TracebackType
from typing import NamedTuple

from cache.breaker import Breaker
from cache.cutoff import CutOffNotices, CutOffState
from cache.entry import Entry, Loaded, Lookup, Source
from cache.errors import CacheBackendError
from cache.generations import TagGenerations
from cache.guarded import GuardedRedis
from cache.health import CacheHealth
from cache.invalidation import ChannelListener, ChannelSettings, Message, decode_message
from cache.keys import check_name, normalize_tags
from cache.lease import Lease
from cache.memory_layer import MemoryLayer
from cache.observer import BarrierOutcome, CacheObserver
from cache.recent import RecentReads
from cache.redis_layer import RedisLayer
from cache.singleflight import SingleFlight, cancel_and_wait


class _Seen(NamedTuple):
    entry: Entry
    tags: tuple[str, ...]
    mark: int  # the fill's generation mark, taken before its Redis read


class ReadThroughCache:
    """Owns the layers it is given: `aclose()` closes the Redis layer."""

    def __init__(
        self,
        *,
        memory: MemoryLayer | None,
        redis: RedisLayer | None,
        observer: CacheObserver,
        fresh_ttl: float,
        stale_window: float,
        stale_on: tuple[type[BaseException], ...] = (),
        stale_after: float | None = None,
        clock: Callable[[], float] = time.time,
        breaker: Breaker | None = None,
        channel: ChannelSettings | None = None,
        pending_limit: int = 10_000,
        notices: CutOffNotices | None = None,
        notice_valid_for: float = 10.0,
    ) -> None:
        if fresh_ttl <= 0 or stale_window < 0:
            raise ValueError("fresh_ttl must be > 0 and stale_window >= 0")
        self._memory = memory
        self._observer = observer
        self._fresh_ttl = fresh_ttl
        self._stale_window = stale_window
        self._stale_on = stale_on
        if stale_after is not None and stale_after <= 0:
            raise ValueError("stale_after must be > 0 (None: wait for the load)")
        self._stale_after = stale_after
        # Stale copies that fills in flight found in Redis, for readers that stop waiting for
        # the load (get_or_load); each is checked as `_stale_copy` checks it before serving.
        self._stale_seen: dict[str, _Seen] = {}
        self._clock = clock
        self._channel = channel if channel is not None else ChannelSettings()
        self._gens = TagGenerations()
        self._flights: SingleFlight[Lookup] = SingleFlight()
        self._origin = uuid.uuid4().hex
        self._redis: GuardedRedis | None = None
        # Alone (no Redis) there is nobody to hear from: memory is always servable.
        self._lease = Lease(self._channel.lease) if redis is not None else Lease.forever()
        # Without a lease, what this process read itself in the last lease (cache.recent).
        self._recent = RecentReads() if redis is not None and memory is not None else None
        # Past the registration cap, recent reads go on while notices vouch for them, and
        # writes read them (cache.cutoff).
        self._notices = notices if redis is not None else None
        self._cut_off = CutOffState(notice_valid_for)
        self._announcer: asyncio.Task[None] | None = None
        self._announced = False  # a notice of this process may be in the store
        self._withdrawals: set[asyncio.Task[None]] = set()
        self._closing = False
        if redis is not None:
            self._redis = GuardedRedis(
                redis,
                breaker=breaker if breaker is not None else Breaker(),
                observer=observer,
                origin=self._origin,
                # Generation keys must outlive every value (see redis_layer); values live at
                # most fresh_ttl + stale_window because Loaded.ttl is capped at fresh_ttl.
                gen_ttl_ms=int((fresh_ttl + stale_window) * 2000) + 60_000,
                pending_limit=pending_limit,
                clock=clock,
                lease=self._channel.lease,
                listed=lambda: monotonic() < self._lease.registered_until,
            )
        self._channel_up = False
        self._channel_event = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        self._listener_loop: ChannelListener | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the invalidation listener. Until it holds a lease, memory is not served."""
        if self._redis is None or self._listener is not None:
            return
        barriers = self._redis.barriers
        self._listener_loop = listener = ChannelListener(
            self._redis.layer,
            self._channel,
            origin=self._origin,
            on_message=self._on_message,
            on_ack=lambda raw: (
                None if barriers.ack(raw) else self._observer.error("redis", "decode")
            ),
            on_pong=self._on_pong,
            on_registered=lambda sent_at: self._lease.registered(
                sent_at, self._channel.registry_ttl
            ),
            on_up=self._on_channel_up,
            on_down=self._on_channel_down,
            on_error=lambda operation: self._observer.error("redis", operation),
        )
        self._listener = asyncio.create_task(listener.run(), name="cache-invalidation-listener")

    async def wait_connected(self, within: float) -> bool:
        """Wait (bounded) until the invalidation channel is subscribed and the first lease
        held; False on timeout."""
        try:
            async with asyncio.timeout(within):
                await self._channel_event.wait()
        except TimeoutError:
            return False
        return True

    async def aclose(self) -> None:
        self._closing = True  # a channel that goes down now is not a cut-off
        if self._listener is not None and self._listener_loop is not None:
            self._listener_loop.stop()
            await cancel_and_wait([self._listener], within=5.0)
            self._listener = None
        if self._announcer is not None:
            await cancel_and_wait([self._announcer], within=1.0)
            self._announcer = None
        if self._announced:
            self._withdraw()
        if self._withdrawals:
            await asyncio.wait(self._withdrawals, timeout=1.0)
        await self._flights.aclose()
        if self._redis is not None:
            await self._redis.aclose()

    async def __aenter__(self) -> ReadThroughCache:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- reads -------------------------------------------------------------------------------

    def peek(self, key: str) -> Lookup | None:
        """The hot path: a fresh in-process hit, or None. No await, no I/O."""
        memory = self._memory
        if memory is None:
            return None
        now = monotonic()
        if now >= self._lease.until:
            # Without a lease only what this process read in the last lease may answer; else
            # Redis (kept fresh by every write) or the table.
            recent = self._recent
            hit = None if recent is None else recent.get(key, now)
            if hit is not None:
                self._observer.hit("memory")
            return hit
        hit = memory.get_fresh_hit(key, self._clock())
        if hit is not None:
            self._observer.hit("memory")
        return hit

    async def get_or_load(
        self, key: str, tags: Sequence[str], loader: Callable[[], Awaitable[Loaded]]
    ) -> Lookup:
        """Memory, then Redis, then `loader` (once per key per process). Redis errors are
        counted and skipped; loader errors propagate unless a stale copy may be served."""
        hit = self.peek(key)
        if hit is not None:
            return hit
        if self._memory is not None:
            self._observer.miss("memory")
        check_name(key)
        tagset = normalize_tags(tags)
        flight = self._flights.start(
            key, frozenset(tagset), lambda: self._fill(key, tagset, loader)
        )
        if self._stale_after is None or flight.done():
            return await asyncio.shield(flight)
        # Stale-if-error without the load's whole deadline: with a copy to fall back on, a
        # reader waits a short while for the load, then answers from the copy; the load goes on
        # (one per key: later readers join it), and what it brings replaces the copy.
        done, _ = await asyncio.wait((flight,), timeout=self._stale_after)
        if not done:
            fallback = self._stale_now(key, tagset)
            if fallback is not None:
                return fallback
        return await asyncio.shield(flight)

    async def _fill(
        self, key: str, tags: tuple[str, ...], loader: Callable[[], Awaitable[Loaded]]
    ) -> Lookup:
        mark = self._gens.mark()  # before any read: see rule 1
        gens: bytes | None = None
        stale: Entry | None = None
        redis = self._redis
        read_at = monotonic()
        found = await redis.read(key, tags) if redis is not None and await redis.ready() else None
        if found is not None:
            gens = found.gens
            now = self._clock()
            if found.entry is not None and now < found.entry.fresh_until:
                self._observer.hit("redis")
                self._remember(key, tags, found.entry, mark, read_at)
                return Lookup(found.entry, Source.REDIS)
            self._observer.miss("redis")
            stale = found.entry
        if stale is None:
            return await self._load(key, tags, loader, mark, gens, stale)
        seen = _Seen(stale, tags, mark)
        self._stale_seen[key] = seen
        try:
            return await self._load(key, tags, loader, mark, gens, stale)
        finally:
            if self._stale_seen.get(key) is seen:
                del self._stale_seen[key]

    async def _load(
        self,
        key: str,
        tags: tuple[str, ...],
        loader: Callable[[], Awaitable[Loaded]],
        mark: int,
        gens: bytes | None,
        redis_stale: Entry | None,
    ) -> Lookup:
        started = time.perf_counter()
        read_at = monotonic()
        try:
            loaded = await loader()
        except Exception as exc:
            self._observer.load_finished(time.perf_counter() - started, "error")
            if isinstance(exc, self._stale_on):
                fallback = self._stale_copy(key, tags, mark, redis_stale)
                if fallback is not None:
                    return fallback
            raise
        self._observer.load_finished(time.perf_counter() - started, "ok")
        now = self._clock()
        ttl = self._fresh_ttl if loaded.ttl is None else min(loaded.ttl, self._fresh_ttl)
        entry = Entry.build(
            loaded.body,
            status=loaded.status,
            now=now,
            ttl=ttl,
            etag=loaded.etag,
            encodings=loaded.encodings,
        )
        self._remember(key, tags, entry, mark, read_at)
        if gens is not None and self._redis is not None:
            ttl_ms = int((entry.fresh_until - now + self._kept_stale(entry)) * 1000)
            await self._redis.store(key, tags, gens, entry, ttl_ms=ttl_ms)
        return Lookup(entry, Source.MISS)

    def _remember(
        self, key: str, tags: tuple[str, ...], entry: Entry, mark: int, read_at: float
    ) -> None:
        """Keep what a fill read at `read_at` (monotonic, before its read began)."""
        memory = self._memory
        if memory is None or self._gens.moved(tags, mark):
            return  # an invalidation happened since this fill began: its data may be old
        recent = self._recent
        if recent is not None:
            now = monotonic()
            if now >= self._lease.until:
                if self._announcer is None and self._cut_off_now(now):
                    self._start_notices()
                vouched = max(self._lease.registered_until, self._cut_off.cap(read_at))
                until = min(read_at + self._channel.lease, vouched)
                recent.put(key, tags, entry, until=until, now=now)
        if self._redis is not None and not self._channel_up:
            # No channel, no word of other instances' writes: it could not be served before
            # the next subscription, which clears everything anyway.
            return
        fresh_until = entry.fresh_until
        keep_until = fresh_until + self._kept_stale(entry)
        _, evicted = memory.put(key, tags, entry, fresh_until=fresh_until, keep_until=keep_until)
        if evicted:
            self._observer.eviction("memory", evicted)

    def _kept_stale(self, entry: Entry) -> float:
        # A negative entry is not kept past its freshness, in either layer: anyone can ask for
        # names that do not exist, and each would otherwise hold memory and a Redis key for
        # the whole stale window.
        return self._stale_window if entry.status == 200 else 0.0

    def _stale_copy(
        self, key: str, tags: tuple[str, ...], mark: int, redis_stale: Entry | None
    ) -> Lookup | None:
        now = self._clock()
        if self._memory is not None and monotonic() < self._lease.until:
            # Present in memory means not invalidated: invalidation removes it (the lease says
            # this instance has heard of every invalidation so far).
            entry = self._memory.get_stale(key, now)
            if entry is not None:
                self._observer.stale_served("memory")
                return Lookup(entry, Source.STALE)
        if (
            redis_stale is not None
            and not self._gens.moved(tags, mark)
            and now < redis_stale.fresh_until + self._stale_window
        ):
            self._observer.stale_served("redis")
            return Lookup(redis_stale, Source.STALE)
        return None

    def _stale_now(self, key: str, tags: tuple[str, ...]) -> Lookup | None:
        """A copy a reader tired of waiting may serve: as `_stale_copy` would after an error."""
        seen = self._stale_seen.get(key)
        if seen is None:
            # Without a Redis copy only memory can answer, and it needs no mark.
            return self._stale_copy(key, tags, self._gens.mark(), None)
        return self._stale_copy(key, seen.tags, seen.mark, seen.entry)

    # -- invalidation ------------------------------------------------------------------------

    async def invalidate(self, tags: Iterable[str], *, answering: bool = False) -> None:
        """Drop every entry carrying any of `tags`, here at once and in Redis before returning
        (or, if Redis does not answer, as soon as it does), and in every other live instance's
        memory (rule 4). `answering`: a response that promises the change to later reads waits
        for this (a write); then an instance cut off from Redis that announced it is waited
        for too (cache.cutoff). Never raises a cache error."""
        tagset = normalize_tags(tags)
        if not tagset:
            return
        self._drop_local(tagset)
        if self._redis is None:
            return
        started = monotonic()
        outcome: BarrierOutcome = "redis_down"
        try:
            barrier = await self._redis.invalidate(tagset)
            if barrier is not None:
                outcome = await barrier.wait()
                if outcome == "acked" and answering and self._notices is not None:
                    # Acked within the lease: a process the registry no longer lists may be
                    # serving what it read before this write committed.
                    await self._wait_for_cut_off(self._notices)
            else:
                # Nobody can be asked. Instances that lost Redis too lose their leases within
                # one lease; one that still reaches Redis keeps its copy until the pending
                # flush (cache.invalidation states this bound).
                await asyncio.sleep(self._channel.lease)
        finally:
            self._drop_local(tagset)  # rule 2: the second pass
        self._observer.barrier_finished(monotonic() - started, outcome)

    async def _wait_for_cut_off(self, notices: CutOffNotices) -> None:
        try:
            async with asyncio.timeout(self._cut_off.renew_every):
                cut_off = await notices.others(self._origin)
        except Exception:  # noqa: BLE001 - unknown: assume one is
            self._observer.cut_off("check_failed")
            cut_off = True
        if cut_off:
            self._observer.cut_off("waited")
            await asyncio.sleep(self._channel.lease)

    def _cut_off_now(self, now: float) -> bool:
        """Whether recent reads need notices soon: the registration cap is closer than it ever
        is while registrations get through (one every fifth of the TTL, each for half of it)."""
        return self._lease.registered_until - now < self._channel.registry_ttl / 4

    def _start_notices(self) -> None:
        if (
            self._notices is None
            or self._recent is None
            or self._announcer is not None
            or self._closing
        ):
            return
        self._announcer = asyncio.create_task(
            self._announce(self._notices), name="cache-cut-off-notices"
        )

    async def _announce(self, notices: CutOffNotices) -> None:
        """From when the registration cap nears until registrations get through again: renew
        this process's notice; then withdraw it (cache.cutoff)."""
        state = self._cut_off
        while True:
            now = monotonic()
            until_needed = self._lease.registered_until - self._channel.registry_ttl / 4 - now
            if until_needed > 0:
                if self._channel_up:
                    break  # the registry vouches for this process again
                await asyncio.sleep(min(until_needed, state.renew_every))
                continue
            self._announced = True  # from the first attempt: a put cut short may have landed
            try:
                async with asyncio.timeout(state.renew_every):
                    await notices.announce(self._origin, valid_for=state.valid_for)
            except Exception:  # noqa: BLE001 - the notices then lapse: reads go to the table
                self._observer.cut_off("announce_failed")
            else:
                state.stored(now, monotonic())
                self._observer.cut_off("announced")
            await asyncio.sleep(max(0.0, now + state.renew_every - monotonic()))
        self._announcer = None
        if self._announced:
            self._withdraw()

    def _withdraw(self) -> None:
        self._cut_off.reset()
        self._announced = False
        notices = self._notices
        if notices is None:
            return

        async def withdraw() -> None:
            try:
                async with asyncio.timeout(self._cut_off.renew_every):
                    await notices.withdraw(self._origin)
            except Exception:  # noqa: BLE001 - it stops counting by itself
                self._observer.cut_off("withdraw_failed")

        task = asyncio.create_task(withdraw(), name="cache-cut-off-withdraw")
        self._withdrawals.add(task)
        task.add_done_callback(self._withdrawals.discard)

    def _drop_local(self, tags: Iterable[str]) -> None:
        self._gens.bump(tags)
        if self._memory is not None:
            self._memory.invalidate(tags)
        if self._recent is not None:
            self._recent.drop(tags)
        self._flights.detach(tags)

    def _drop_all(self) -> None:
        self._gens.bump_all()
        if self._memory is not None:
            self._memory.clear()
        if self._recent is not None:
            self._recent.clear()
        self._flights.detach_all()

    def _on_message(self, raw: bytes) -> Message | None:
        """Apply another instance's invalidation; the message, for its ack, once applied."""
        try:
            message = decode_message(raw)
        except ValueError:
            self._observer.error("redis", "decode")
            self._drop_all()  # we cannot tell what it invalidated: assume everything
            return None
        if message.origin == self._origin:
            return None  # already applied locally, synchronously; a writer never waits for itself
        self._observer.invalidation_delay(max(0.0, self._clock() - message.sent_at))
        if message.everything:
            self._drop_all()
        else:
            self._drop_local(message.tags)
        return message

    def _on_pong(self, ping_sent_at: float) -> None:
        if self._lease.renew(ping_sent_at, monotonic()):
            self._observer.lease_lapsed()
        if self._channel_up and not self._channel_event.is_set():
            self._channel_event.set()

    async def _on_channel_up(self) -> None:
        assert self._redis is not None
        if self._redis.pending and not await self._redis.flush():
            raise CacheBackendError("pending invalidations could not be flushed")
        self._drop_all()  # messages may have been missed while unsubscribed
        self._channel_up = True

    def _on_channel_down(self) -> None:
        self._lease.drop()
        self._start_notices()
        if self._channel_up:
            self._channel_up = False
            self._channel_event.clear()
            self._drop_all()

    # -- introspection -----------------------------------------------------------------------

    def health(self) -> CacheHealth:
        redis = self._redis
        return CacheHealth(
            redis_configured=redis is not None,
            redis_ok=redis is not None and redis.ok,
            breaker=redis.breaker.state if redis is not None else "closed",
            channel_connected=self._channel_up,
            pending_invalidations=len(redis.pending) if redis is not None else 0,
            memory_entries=len(self._memory) if self._memory is not None else 0,
            memory_bytes=self._memory.bytes_used if self._memory is not None else 0,
            loads_in_flight=len(self._flights),
            lease_valid=monotonic() < self._lease.until,
        )

    def redis_ok(self) -> bool:
        return self.health().redis_ok
