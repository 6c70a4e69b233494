"""The Redis layer: generation-checked reads and stores, and invalidate-and-publish.

Keys under `prefix`:
  {p}:seq          one counter; every invalidation draws a new generation from it
  {p}:G            the generation of "everything" (bumped when pending invalidations overflow)
  {p}:g:{tag}      the generation of a tag (absent means "0")
  {p}:v:{key}:{G}.{g1}.{g2}...   a value, addressed by the generations it was loaded under
  {p}:inval        the pub/sub channel
  {p}:instances    the registry: a sorted set of live instances' origins, scored by expiry
                   (ms, Redis' clock); expired members are removed by every register and write
  {p}:ack:{origin} the channel on which an instance collects acks for its writes

Invalidating bumps the tags' generations, so a reader computes a new value key and never sees
the old value again, and a store made with the generations read before its load (the Facebook
"lease" idea, with generations as the lease token) is refused once they moved. Generations
come from one shared sequence, so they never repeat even after a generation key expires; a
generation key lives at least as long as any value (`gen_ttl_ms`), which rules out a value
stored under "0" reappearing. Each operation is one Lua script: one round trip, atomic.

Every call is bounded twice: the socket timeouts of the client and an `asyncio.timeout`
around the call (which also covers connecting and the script's first EVALSHA/LOAD). The client
is built without retries: a retry would multiply the bound.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from cache.codec import decode_entry, encode_entry
from cache.entry import Entry
from cache.errors import CacheBackendError, CacheDecodeError, CacheTimeoutError

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Published:
    receivers: int  # subscribers of the channel that received the message
    members: frozenset[str]  # origins registered as live when it was published


@dataclass(frozen=True, slots=True)
class RedisRead:
    gens: bytes  # the generations read; a later store must present them unchanged
    entry: Entry | None
    corrupt: bool = False  # a value was there but could not be decoded (counted, treated as a miss)


_GENS = """
local g = {}
for i, k in ipairs(KEYS) do g[i] = redis.call('GET', k) or '0' end
return table.concat(g, '.')
"""

_READ = (
    "local gens = (function()"
    + _GENS
    + """end)()
local v = redis.call('GET', ARGV[1] .. gens)
if v then return {gens, v} end
return {gens}
"""
)

_STORE = (
    "local gens = (function()"
    + _GENS
    + """end)()
if gens ~= ARGV[2] then return 0 end
redis.call('SET', ARGV[1] .. gens, ARGV[3], 'PX', ARGV[4])
return 1
"""
)

_NOW_MS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# KEYS[1] is the sequence, KEYS[2] the registry; the rest are the generation keys to move.
# Returns how many subscribers received the message and the live members: the instances
# that must confirm it (cache.barrier).
_INVALIDATE = (
    """
local n = redis.call('INCR', KEYS[1])
for i = 3, #KEYS do redis.call('SET', KEYS[i], n, 'PX', ARGV[1]) end
"""
    + _NOW_MS
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. now)
local receivers = redis.call('PUBLISH', ARGV[2], ARGV[3])
return {receivers, redis.call('ZRANGE', KEYS[2], 0, -1)}
"""
)

# Registers ARGV[1] until now + ARGV[2] ms. The key itself expires when nobody registers.
_REGISTER = (
    _NOW_MS
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], 2 * tonumber(ARGV[2]))
return 1
"""
)


class RedisLayer:
    def __init__(
        self, client: Redis, *, prefix: str, timeout: float = 0.05, listener: Redis | None = None
    ) -> None:
        if not prefix or timeout <= 0:
            raise ValueError("prefix must be non-empty and timeout > 0")
        self._client = client
        self._listener = listener if listener is not None else client
        self._prefix = prefix
        self._timeout = timeout
        self._read = client.register_script(_READ)
        self._store = client.register_script(_STORE)
        self._invalidate = client.register_script(_INVALIDATE)
        self._register = client.register_script(_REGISTER)
        self.channel = f"{prefix}:inval"
        self._registry = f"{prefix}:instances"

    @classmethod
    def from_url(cls, url: str, *, prefix: str, timeout: float = 0.05) -> RedisLayer:
        client = Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            retry_on_error=[],
            decode_responses=False,
        )
        # The invalidation listener waits for messages instead of answering requests, and its
        # liveness is judged over ChannelSettings.dead_after. A socket timeout sized for one
        # command would declare the channel lost (and drop every local entry) whenever a busy
        # event loop reads a message late.
        listener = Redis.from_url(
            url,
            socket_timeout=None,
            socket_connect_timeout=max(timeout, 0.5),
            retry=Retry(NoBackoff(), 0),
            retry_on_error=[],
            decode_responses=False,
        )
        return cls(client, prefix=prefix, timeout=timeout, listener=listener)

    @property
    def timeout(self) -> float:
        return self._timeout

    def pubsub(self) -> PubSub:
        return self._listener.pubsub()

    def ack_channel(self, origin: str) -> str:
        return f"{self._prefix}:ack:{origin}"

    async def read(self, key: str, tags: Sequence[str]) -> RedisRead:
        """One round trip: the generations of the tags and the value stored under them."""
        reply = await self._call(
            lambda: self._read(keys=self._gen_keys(tags), args=[self._value_base(key)])
        )
        gens = bytes(reply[0])
        if len(reply) < 2:
            return RedisRead(gens, None)
        try:
            return RedisRead(gens, decode_entry(bytes(reply[1])))
        except CacheDecodeError:
            return RedisRead(gens, None, corrupt=True)

    async def store(
        self, key: str, tags: Sequence[str], gens: bytes, entry: Entry, *, ttl_ms: int
    ) -> bool:
        """Store only if the generations are still `gens` (read before the load)."""
        args: list[bytes | str | int] = [
            self._value_base(key),
            gens,
            encode_entry(entry),
            max(1, ttl_ms),
        ]
        stored = await self._call(lambda: self._store(keys=self._gen_keys(tags), args=args))
        return bool(stored)

    async def invalidate(
        self, tags: Sequence[str], *, everything: bool, message: bytes, gen_ttl_ms: int
    ) -> Published:
        """Move the generations and publish `message`, atomically, in one round trip."""
        keys = [f"{self._prefix}:seq", self._registry]
        if everything:
            keys.append(f"{self._prefix}:G")
        keys.extend(f"{self._prefix}:g:{tag}" for tag in tags)
        args: list[bytes | str | int] = [max(1, gen_ttl_ms), self.channel, message]
        receivers, members = await self._call(lambda: self._invalidate(keys=keys, args=args))
        return Published(int(receivers), frozenset(bytes(member).decode() for member in members))

    async def register(self, origin: str, *, ttl_ms: int) -> None:
        """Be counted as live (writers wait for this origin's acks) for `ttl_ms`."""
        args: list[bytes | str | int] = [origin, max(1, ttl_ms)]
        await self._call(lambda: self._register(keys=[self._registry], args=args))

    async def deregister(self, origin: str) -> None:
        await self._call(lambda: self._client.zrem(self._registry, origin))

    async def publish(self, channel: str, message: bytes) -> None:
        await self._call(lambda: self._client.publish(channel, message))

    async def aclose(self) -> None:
        await self._client.aclose()
        if self._listener is not self._client:
            await self._listener.aclose()

    def _gen_keys(self, tags: Sequence[str]) -> list[str]:
        return [f"{self._prefix}:G", *(f"{self._prefix}:g:{tag}" for tag in tags)]

    def _value_base(self, key: str) -> str:
        return f"{self._prefix}:v:{key}:"

    async def _call(self, op: Callable[[], Awaitable[T]]) -> T:
        try:
            async with asyncio.timeout(self._timeout):
                return await op()
        except TimeoutError as exc:  # asyncio's, and redis' TimeoutError subclasses neither
            raise CacheTimeoutError(f"redis call exceeded {self._timeout * 1000:.0f} ms") from exc
        except (RedisError, OSError) as exc:
            raise CacheBackendError(f"redis call failed: {exc}") from exc
