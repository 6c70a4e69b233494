"""Cross-instance invalidation: the pub/sub listener, its message format, and the queue of
invalidations that could not reach Redis.

Bounds this module and `ReadThroughCache` together guarantee:

* Same instance: after `invalidate(tags)` returns, no read on that instance returns an entry
  loaded before the write (memory is dropped synchronously; Redis generations moved or, if
  Redis did not answer, Redis is not read again by this instance until they are).
* Other instances, channel healthy: they stop serving the old entry when the message arrives
  (`invalidation_delay`, typically a few ms on a LAN: one PUBLISH hop).
* Other instances, channel broken: a listener that sees an error, or no traffic at all for
  `dead_after` seconds (it PINGs every `ping_interval`), drops ALL local entries and, until it
  is subscribed again, keeps new ones only `degraded_ttl` seconds. So the worst case is
  max(dead_after, degraded_ttl) plus one message hop. On resubscribing it clears again,
  because messages may have been lost while it was away.
* Redis unreachable from the invalidating instance: the tags wait in `PendingInvalidations`
  (bounded, deduplicated; on overflow they collapse into "invalidate everything") and are
  flushed before this instance trusts a Redis read again, by the next read, invalidation or
  listener reconnect that finds Redis answering. Until then another instance that can reach
  Redis may serve the old value from it, but only while that value is fresh: leftover stale
  data is bounded by the time until the flush and never exceeds the fresh TTL (stale-if-error
  reads may return it for up to the stale window, only while the loader is failing). If the
  process dies with invalidations pending they are lost; the fresh TTL is then the bound, and
  the Redis value TTL (fresh TTL + stale window) is the backstop for the bytes themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from redis.exceptions import RedisError

from cache.errors import CacheError
from cache.redis_layer import RedisLayer

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ChannelSettings:
    ping_interval: float = 1.0
    dead_after: float = 3.0  # no message and no PONG for this long: the channel is lost
    backoff_min: float = 0.05
    backoff_max: float = 2.0
    degraded_ttl: float = 1.0  # local freshness while the channel is down


@dataclass(frozen=True, slots=True)
class Message:
    sent_at: float
    origin: str
    everything: bool
    tags: tuple[str, ...]


def encode_message(*, sent_at: float, origin: str, everything: bool, tags: Iterable[str]) -> bytes:
    # Tags and origins never contain "\n" (checked at the API), so newline framing is exact.
    head = f"{sent_at!r}\n{origin}\n{int(everything)}"
    return "\n".join((head, *tags)).encode()


def decode_message(raw: bytes) -> Message:
    parts = raw.decode().split("\n")
    if len(parts) < 3 or parts[2] not in ("0", "1"):
        raise ValueError("malformed invalidation message")
    return Message(float(parts[0]), parts[1], parts[2] == "1", tuple(parts[3:]))


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

    def add(self, tags: Iterable[str]) -> None:
        self._seq += 1
        if self._everything:
            # "everything" covers these tags; re-stamp it so a flush already in flight (which
            # may have run before this write committed) does not retire it.
            self._everything = self._seq
            return
        for tag in tags:
            self._tags[tag] = self._seq
        if len(self._tags) > self._limit:
            self.add_everything()

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


class ChannelListener:
    """Keeps one subscription to the invalidation channel alive, with bounded backoff."""

    def __init__(
        self,
        redis: RedisLayer,
        settings: ChannelSettings,
        *,
        on_message: Callable[[bytes], None],
        on_up: Callable[[], Awaitable[None]],
        on_down: Callable[[], None],
        on_error: Callable[[], None],
    ) -> None:
        self._redis = redis
        self._settings = settings
        self._on_message = on_message
        self._on_up = on_up
        self._on_down = on_down
        self._on_error = on_error
        self._was_up = False
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
                self._on_error()
                log.warning("cache invalidation channel lost: %r", exc)
            except Exception:  # a dead listener would leave this instance degraded for good
                self._on_error()
                log.exception("cache invalidation listener failed; restarting it")
            finally:
                # Runs on cancellation too: never leave entries that a lost channel vouched for.
                self._on_down()
            backoff = self._settings.backoff_min if self._was_up else backoff
            await asyncio.sleep(backoff * random.uniform(0.5, 1.0))
            backoff = min(backoff * 2, self._settings.backoff_max)

    async def _session(self) -> None:
        """Subscribe, then pump messages until the channel fails (it only ends by raising)."""
        settings = self._settings
        loop = asyncio.get_running_loop()
        pubsub = self._redis.pubsub()
        try:
            async with asyncio.timeout(max(self._redis.timeout, 0.5)):
                await pubsub.subscribe(self._redis.channel)
                while (msg := await pubsub.get_message(timeout=0.5)) is None or (
                    msg["type"] != "subscribe"
                ):
                    pass
            # Subscribed: from here on no message is missed, so flush our own pending
            # invalidations and clear what may have been missed while away, then trust.
            await self._on_up()
            self._was_up = True
            last_seen = next_ping = loop.time()
            while not self._stopping:
                msg = await pubsub.get_message(timeout=settings.ping_interval / 2)
                now = loop.time()
                if msg is not None:
                    last_seen = now
                    if msg["type"] == "message":
                        self._on_message(bytes(msg["data"]))
                if now - last_seen > settings.dead_after:
                    raise TimeoutError(f"no traffic on the channel for {settings.dead_after} s")
                if now >= next_ping:
                    next_ping = now + settings.ping_interval
                    # Bounded by dead_after, not by one command's timeout: the PONG (or any
                    # message) arriving within dead_after is what proves the channel alive.
                    async with asyncio.timeout(settings.dead_after):
                        await pubsub.ping()
        finally:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()  # type: ignore[no-untyped-call]
