"""Cross-instance invalidation: the pub/sub listener, its message format, and the queue of
invalidations that could not reach Redis.

Bounds this module and `ReadThroughCache` together guarantee:

* Same instance: after `invalidate(tags)` returns, no read on that instance returns an entry
  loaded before the write (memory is dropped synchronously; Redis generations moved or, if
  Redis did not answer, Redis is not read again by this instance until they are).
* Other instances, Redis answering the writer: after `invalidate(tags)` returns, none serves
  an entry loaded before the write. Each registered instance acks the message once applied
  (`cache.barrier`); one that does not has let its lease lapse by then (`cache.lease`), and
  serves memory again only after a PONG proves it has read every earlier message.
* Other instances, channel broken: no PONG, no lease, so nothing is served from memory at
  once (within one lease). A listener that sees an error, or no traffic at all for
  `dead_after` seconds, also drops ALL local entries; on resubscribing it clears again,
  because messages may have been lost while it was away.
* Redis unreachable from the invalidating instance: the tags wait in `PendingInvalidations`
  (bounded, deduplicated; on overflow they collapse into "invalidate everything") and are
  flushed before this instance trusts a Redis read again, by the next read, invalidation or
  listener reconnect that finds Redis answering. The write itself waits one lease, so every
  instance that lost Redis too has stopped serving memory. Until the flush, another instance
  that can reach Redis may serve the old value from it or from its memory, but only while
  that value is fresh: leftover stale
  data is bounded by the time until the flush and never exceeds the fresh TTL (stale-if-error
  reads may return it for up to the stale window, only while the loader is failing). If the
  process dies with invalidations pending they are lost; the fresh TTL is then the bound, and
  the Redis value TTL (fresh TTL + stale window) is the backstop for the bytes themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from cache.barrier import encode_ack
from cache.errors import CacheBackendError, CacheError
from cache.redis_layer import RedisLayer
from cache.singleflight import cancel_and_wait

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ChannelSettings:
    ping_interval: float = 1.0  # at most; PINGs also renew the lease, every lease / 2
    dead_after: float = 3.0  # no message and no PONG for this long: the channel is lost
    backoff_min: float = 0.05
    backoff_max: float = 2.0
    lease: float = 0.05  # how long one PONG vouches for the in-process layer (cache.lease)
    registry_ttl: float = 5.0  # a dead instance stops slowing writes after this long

    def __post_init__(self) -> None:
        if not 0 < self.lease < self.dead_after or self.registry_ttl <= 0:
            raise ValueError("need 0 < lease < dead_after and registry_ttl > 0")

    @property
    def ping_every(self) -> float:
        # Two PINGs per lease: a PONG late by up to half a lease does not let it lapse. Four
        # (3/4 of a lease of slack) cost a worker holding 10,000 entries 1.5 µs of CPU more per
        # request than two at 14k req/s, and 1.5-3.5% of its cached-read throughput: a PING
        # cycle is 70-150 µs of redis-py alone, and the requests served after it pay for what
        # it evicted from the CPU's caches (docs/performance/2026-12-07-lease-pings.md). A
        # lapse loses no freshness: reads go to cache.recent or Redis until the next PONG.
        return min(self.ping_interval, self.lease / 2)


@dataclass(frozen=True, slots=True)
class Message:
    sent_at: float
    origin: str
    everything: bool
    tags: tuple[str, ...]
    write_id: str | None = None  # set: the writer waits for an ack (cache.barrier)


def encode_message(
    *,
    sent_at: float,
    origin: str,
    everything: bool,
    tags: Iterable[str],
    write_id: str | None = None,
) -> bytes:
    # Tags and origins never contain "\n" (checked at the API), so newline framing is exact.
    # The write id rides in the origin field after a space: a reader that predates acks reads
    # an origin that is not its own (so it applies the message) and every tag intact.
    sender = origin if write_id is None else f"{origin} {write_id}"
    head = f"{sent_at!r}\n{sender}\n{int(everything)}"
    return "\n".join((head, *tags)).encode()


def decode_message(raw: bytes) -> Message:
    parts = raw.decode().split("\n")
    if len(parts) < 3 or parts[2] not in ("0", "1"):
        raise ValueError("malformed invalidation message")
    origin, _, write_id = parts[1].partition(" ")
    return Message(float(parts[0]), origin, parts[2] == "1", tuple(parts[3:]), write_id or None)


class PendingInvalidations:
    """Tags whose Redis generations could not be moved yet, deduplicated and bounded."""

    def __init__(self, *, limit: int) -> None:
        self._limit = limit
        self._seq = 0
        self._tags: dict[str, int] = {}  # tag -> sequence of its latest pending invalidation
        self._everything = 0

    def __bool__(self) -> bool:
        return bool(self._tags) or self._everything > 0

    def __len__(self) -> int:
        return len(self._tags) + (1 if self._everything else 0)

    @property
    def seq(self) -> int:
        """The latest add: a snapshot taken now covers every add up to it."""
        return self._seq

    def add(self, tags: Iterable[str]) -> int:
        self._seq += 1
        if self._everything:
            # "everything" covers these tags; re-stamp it so a flush already in flight (which
            # may have run before this write committed) does not retire it.
            self._everything = self._seq
            return self._seq
        for tag in tags:
            self._tags[tag] = self._seq
        if len(self._tags) > self._limit:
            self.add_everything()
        return self._seq

    def add_everything(self) -> None:
        self._seq += 1
        self._everything = self._seq
        self._tags.clear()

    def snapshot(self) -> tuple[dict[str, int], int]:
        return dict(self._tags), self._everything

    def done(self, tags: dict[str, int], everything: int) -> None:
        """Forget what a successful flush covered, keeping anything re-added meanwhile."""
        if everything and self._everything == everything:
            self._everything = 0
        for tag, seq in tags.items():
            if self._tags.get(tag) == seq:
                del self._tags[tag]


# What redis-py calls a subscription's confirmation and a message, on plain and on sharded
# (cluster) channels.
_SUBSCRIBED = frozenset({"subscribe", "ssubscribe"})
_MESSAGE = frozenset({"message", "smessage"})
_UNSUBSCRIBED = frozenset({"unsubscribe", "sunsubscribe"})


class ChannelListener:
    """Keeps one subscription to the invalidation channel (and this instance's ack channel)
    alive, with bounded backoff; registers the instance, renews its lease, sends acks."""

    def __init__(
        self,
        redis: RedisLayer,
        settings: ChannelSettings,
        *,
        origin: str,
        on_message: Callable[[bytes], Message | None],
        on_ack: Callable[[bytes], None],
        on_pong: Callable[[float], None],
        on_registered: Callable[[float], None],
        on_up: Callable[[], Awaitable[None]],
        on_down: Callable[[], None],
        on_error: Callable[[str], None],
    ) -> None:
        self._redis = redis
        self._settings = settings
        self._origin = origin
        self._ack_channel = redis.ack_channel(origin)
        self._on_message = on_message
        self._on_ack = on_ack
        self._on_pong = on_pong
        self._on_registered = on_registered
        self._on_up = on_up
        self._on_down = on_down
        self._on_error = on_error
        self._acks: set[asyncio.Task[None]] = set()
        self._was_up = False
        self._registered_at: float | None = None  # monotonic; the last registration sent
        # Checked by every loop: a cancel can be swallowed on 3.11 (see singleflight).
        self._stopping = False

    def stop(self) -> None:
        self._stopping = True

    async def run(self) -> None:
        backoff = self._settings.backoff_min
        while not self._stopping:
            self._was_up = False
            try:
                await self._session()
            except (CacheError, RedisError, OSError, TimeoutError) as exc:
                self._on_error("subscribe")
                log.warning("cache invalidation channel lost: %r", exc)
            except Exception:  # a dead listener would leave this instance degraded for good
                self._on_error("subscribe")
                log.exception("cache invalidation listener failed; restarting it")
            finally:
                # Runs on cancellation too: never leave entries that a lost channel vouched for.
                self._on_down()
            backoff = self._settings.backoff_min if self._was_up else backoff
            await asyncio.sleep(backoff * random.uniform(0.5, 1.0))
            backoff = min(backoff * 2, self._settings.backoff_max)

    async def _register(self) -> None:
        sent_at = time.monotonic()
        ttl = self._settings.registry_ttl
        # Registered within the TTL: Redis should still list us; if it does not, it lost the
        # registry, and says so to writers (redis_layer: `instances:lost`).
        listed = self._registered_at is not None and sent_at - self._registered_at < ttl
        await self._redis.register(self._origin, ttl_ms=int(ttl * 1000), listed=listed)
        self._registered_at = sent_at
        self._on_registered(sent_at)

    async def _session(self) -> None:
        """Register, subscribe, then pump messages until the channel fails (it only ends by
        raising)."""
        # Registered BEFORE subscribing: a writer that does not count us yet published before
        # we subscribed, and `on_up` clears everything we held.
        await self._register()
        pubsub = await self._redis.pubsub()
        tasks: list[asyncio.Task[None]] = []
        try:
            async with asyncio.timeout(max(self._redis.timeout, 0.5)):
                await self._redis.subscribe(pubsub, self._redis.channel, self._ack_channel)
                confirmed = 0
                while confirmed < 2:
                    msg = await pubsub.get_message(timeout=0.5)
                    if msg is not None and msg["type"] in _SUBSCRIBED:
                        confirmed += 1
            # Subscribed: from here on no message is missed, so flush our own pending
            # invalidations and clear what may have been missed while away, then trust.
            await self._on_up()
            self._was_up = True
            tasks.append(asyncio.create_task(self._keep_registered(), name="cache-registry"))
            await self._pump(pubsub)
        finally:
            tasks.extend(self._acks)
            await cancel_and_wait(tasks, within=1.0)
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]

    async def _pump(self, pubsub: PubSub) -> None:
        settings = self._settings
        ack_channel = self._ack_channel.encode()
        # PINGs in flight, oldest first: Redis answers them in order, after every message it
        # published before it read each one (the lease's proof, see cache.lease).
        pings: deque[tuple[bytes, float]] = deque()
        tokens = itertools.count()
        last_seen = next_ping = time.monotonic()
        while not self._stopping:
            now = time.monotonic()
            if now >= next_ping:
                token = str(next(tokens)).encode()
                pings.append((token, now))  # taken before sending: the lease errs short
                next_ping = now + settings.ping_every
                # Bounded by dead_after, not by one command's timeout: the PONG (or any
                # message) arriving within dead_after is what proves the channel alive.
                async with asyncio.timeout(settings.dead_after):
                    await pubsub.ping(token)
            msg = await pubsub.get_message(timeout=max(0.0, next_ping - time.monotonic()))
            now = time.monotonic()
            if msg is not None:
                last_seen = now
                kind = msg["type"]
                if kind in _MESSAGE and msg["channel"] == ack_channel:
                    self._on_ack(bytes(msg["data"]))
                elif kind in _MESSAGE:
                    applied = self._on_message(bytes(msg["data"]))
                    if applied is not None and applied.write_id is not None:
                        self._ack(applied.origin, applied.write_id)
                elif kind == "pong":
                    self._pong(pings, bytes(msg["data"]))
                elif kind in _UNSUBSCRIBED:
                    # The server ended the subscription (a cluster slot moved to another
                    # node): PONGs would go on renewing the lease while no message comes.
                    raise CacheBackendError(f"the server ended the subscription ({kind})")
            if now - last_seen > settings.dead_after:
                raise TimeoutError(f"no traffic on the channel for {settings.dead_after} s")

    def _pong(self, pings: deque[tuple[bytes, float]], token: bytes) -> None:
        while pings:
            sent, sent_at = pings.popleft()
            if sent == token:
                self._on_pong(sent_at)
                return

    def _ack(self, writer: str, write_id: str) -> None:
        # Sent after the message was applied (synchronously, above), on the command
        # connection: a subscribed connection cannot PUBLISH.
        task = asyncio.create_task(self._send_ack(writer, write_id))
        self._acks.add(task)
        task.add_done_callback(self._acks.discard)

    async def _send_ack(self, writer: str, write_id: str) -> None:
        try:
            await self._redis.publish(
                self._redis.ack_channel(writer), encode_ack(write_id, self._origin)
            )
        except CacheError:
            self._on_error("publish")  # the writer waits out our lease instead

    async def _keep_registered(self) -> None:
        every = self._settings.registry_ttl / 5
        while not self._stopping:
            await asyncio.sleep(every)
            try:
                await self._register()
            except CacheError:
                # The lease is capped by the last registration that got through, so missing
                # a few costs nothing but memory hits once that cap is reached.
                self._on_error("register")
