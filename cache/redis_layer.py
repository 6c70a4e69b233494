"""The Redis layer: generation-checked reads and stores, and invalidate-and-publish.

Keys under `prefix`:
  {p}:seq          one counter; every invalidation draws a new generation from it
  {p}:G            the generation of "everything" (bumped when pending invalidations overflow)
  {p}:g:{tag}      the generation of a tag (absent means "0")
  {p}:v:{key}:{G}.{g1}.{g2}...   a value, addressed by the generations it was loaded under
  {p}:inval        the pub/sub channel
  {p}:instances    the registry: a sorted set of live instances' origins, scored by expiry
                   (ms, Redis' clock); expired members are removed by every register and write
  {p}:instances:lost  until when (ms, Redis' clock) the registry may lack a live instance: set
                   for one registration TTL by an instance that finds its own registration gone
                   before it could expire (Redis restarted without it, or was flushed)
  {p}:ack:{origin} the channel on which an instance collects acks for its writes

Invalidating bumps the tags' generations, so a reader computes a new value key and never sees
the old value again, and a store made with the generations read before its load (the Facebook
"lease" idea, with generations as the lease token) is refused once they moved. Generations
come from one shared sequence, so they never repeat even after a generation key expires; a
generation key lives at least as long as any value (`gen_ttl_ms`), which rules out a value
stored under "0" reappearing. Each operation is one Lua script: one round trip, atomic.

On a Redis Cluster (`from_url(..., cluster_groups=N)`) the same names carry hash tags so that
each script touches one slot, and the channels are sharded (SSUBSCRIBE/SPUBLISH): see
`cache.keyspace`.

Every call is bounded twice: the socket timeouts of the client and an `asyncio.timeout`
around the call (which also covers connecting and the script's first EVALSHA/LOAD). The client
is built without retries: a retry would multiply the bound.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from cache.codec import decode_entry, encode_entry
from cache.entry import Entry
from cache.errors import CacheBackendError, CacheDecodeError, CacheTimeoutError
from cache.keyspace import Keyspace

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Published:
    receivers: int  # subscribers of the channel that received the message
    members: frozenset[str]  # origins registered as live when it was published
    # The registry was lost lately (or the writer, which believes itself registered, is not
    # in it): an instance cut off since may be missing from it yet still serving its recent
    # reads (cache.recent), so nobody can vouch for every instance.
    lost: bool = False


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

# Whether the registry (KEYS[r]) may lack a live instance: its lost mark (KEYS[l]) is current,
# or the writer (ARGV[o]), which believes itself registered (ARGV[o + 1] == '1'), is not in it.
_LOST = """
local lost = 0
local lost_until = redis.call('GET', KEYS[%(l)d])
if lost_until and now < tonumber(lost_until) then lost = 1 end
if ARGV[%(o)d + 1] == '1' and not redis.call('ZSCORE', KEYS[%(r)d], ARGV[%(o)d]) then lost = 1 end
"""

# KEYS[1] is the sequence, KEYS[2] the registry, KEYS[3] its lost mark; the rest are the
# generation keys to move. Returns how many subscribers received the message, the live members
# (the instances that must confirm it, cache.barrier) and whether the registry may lack one.
_INVALIDATE = (
    """
local n = redis.call('INCR', KEYS[1])
for i = 4, #KEYS do redis.call('SET', KEYS[i], n, 'PX', ARGV[1]) end
"""
    + _NOW_MS
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. now)
"""
    + _LOST % {"l": 3, "r": 2, "o": 4}
    + """
local receivers = redis.call('PUBLISH', ARGV[2], ARGV[3])
return {receivers, redis.call('ZRANGE', KEYS[2], 0, -1), lost}
"""
)

# Cluster mode: an invalidation moves the generations group by group (KEYS[1] is the group's
# sequence), then announces itself in the control slot (KEYS[1] the registry) like the above.
_BUMP = """
local n = redis.call('INCR', KEYS[1])
for i = 2, #KEYS do redis.call('SET', KEYS[i], n, 'PX', ARGV[1]) end
return n
"""

_ANNOUNCE = (
    _NOW_MS
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
"""
    + _LOST % {"l": 2, "r": 1, "o": 3}
    + """
local receivers = redis.call('SPUBLISH', ARGV[1], ARGV[2])
return {receivers, redis.call('ZRANGE', KEYS[1], 0, -1), lost}
"""
)

# Registers ARGV[1] until now + ARGV[2] ms. The key itself expires when nobody registers. An
# instance whose previous registration should still be there (ARGV[3] == '1') and is not marks
# the registry lost for one TTL (KEYS[2]): others cut off since have not re-registered yet.
_REGISTER = (
    _NOW_MS
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
local added = redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], 2 * tonumber(ARGV[2]))
if added == 1 and ARGV[3] == '1' then
  redis.call('SET', KEYS[2], now + tonumber(ARGV[2]), 'PX', 2 * tonumber(ARGV[2]))
end
return 1
"""
)


Client = Redis | RedisCluster


def _client_options(timeout: float | None, connect_timeout: float) -> dict[str, Any]:
    return {
        "socket_timeout": timeout,
        "socket_connect_timeout": connect_timeout,
        "retry": Retry(NoBackoff(), 0),
        "retry_on_error": [],
        "decode_responses": False,
    }


class RedisLayer:
    def __init__(
        self,
        client: Client,
        *,
        prefix: str,
        timeout: float = 0.05,
        listener: Redis | None = None,
        cluster_groups: int | None = None,
    ) -> None:
        if not prefix or timeout <= 0:
            raise ValueError("prefix must be non-empty and timeout > 0")
        if isinstance(client, RedisCluster) != (cluster_groups is not None):
            raise ValueError("a cluster client needs cluster_groups, and only it")
        self._client = client
        # One node: a client of its own for the subscription. Cluster: opened per session, on
        # the node that serves the control slot then (it moves on failover or resharding).
        self._listener = listener if listener is not None or cluster_groups else client
        self._session_client: Redis | None = None
        self._timeout = timeout
        self._keys = Keyspace(prefix, groups=cluster_groups)
        self._read = client.register_script(_READ)
        self._store = client.register_script(_STORE)
        self._invalidate = client.register_script(_INVALIDATE)
        self._bump = client.register_script(_BUMP)
        self._announce = client.register_script(_ANNOUNCE)
        self._register = client.register_script(_REGISTER)
        self.channel = self._keys.channel
        self._registry = self._keys.registry
        self._lost = f"{self._keys.registry}:lost"

    @classmethod
    def from_url(
        cls, url: str, *, prefix: str, timeout: float = 0.05, cluster_groups: int | None = None
    ) -> RedisLayer:
        """`cluster_groups` set: `url` names any node of a Redis Cluster (cluster mode)."""
        if cluster_groups is not None:
            cluster = RedisCluster.from_url(url, **_client_options(timeout, timeout))
            return cls(cluster, prefix=prefix, timeout=timeout, cluster_groups=cluster_groups)
        client = Redis.from_url(url, **_client_options(timeout, timeout))
        # The invalidation listener waits for messages instead of answering requests, and its
        # liveness is judged over ChannelSettings.dead_after. A socket timeout sized for one
        # command would declare the channel lost (and drop every local entry) whenever a busy
        # event loop reads a message late.
        listener = Redis.from_url(url, **_client_options(None, max(timeout, 0.5)))
        return cls(client, prefix=prefix, timeout=timeout, listener=listener)

    @property
    def timeout(self) -> float:
        return self._timeout

    @property
    def clustered(self) -> bool:
        return self._keys.clustered

    async def pubsub(self) -> PubSub:
        """A pub/sub connection for one listener session (see `subscribe`)."""
        if self._listener is not None:
            return self._listener.pubsub()
        assert isinstance(self._client, RedisCluster)
        cluster = self._client

        async def node_client() -> Redis:
            await cluster.initialize()
            node = cluster.get_node_from_key(self.channel)
            if node is None:
                raise CacheBackendError(f"no cluster node serves {self.channel}")
            return Redis(host=node.host, port=int(node.port), **_client_options(None, 0.5))

        if self._session_client is not None:
            await self._session_client.aclose()
            self._session_client = None
        # Plain pub/sub on that one node: the sharded messages and the PONGs then share one
        # connection and arrive in the order the node sent them.
        self._session_client = await self._call(node_client)
        return self._session_client.pubsub()

    async def subscribe(self, pubsub: PubSub, *channels: str) -> None:
        if self.clustered:
            await pubsub.ssubscribe(*channels)
        else:
            await pubsub.subscribe(*channels)

    def ack_channel(self, origin: str) -> str:
        return self._keys.ack_channel(origin)

    async def read(self, key: str, tags: Sequence[str]) -> RedisRead:
        """One round trip: the generations of the tags and the value stored under them."""
        reply = await self._call(
            lambda: self._read(keys=self._gen_keys(key, tags), args=[self._value_base(key)])
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
        stored = await self._call(lambda: self._store(keys=self._gen_keys(key, tags), args=args))
        return bool(stored)

    async def invalidate(
        self,
        tags: Sequence[str],
        *,
        everything: bool,
        message: bytes,
        gen_ttl_ms: int,
        origin: str = "",
        listed: bool = False,
    ) -> Published:
        """Move the generations and publish `message`: atomically in one round trip on one node;
        on a cluster every group's generations first, then the announcement. `origin` is the
        writer's, `listed` whether it believes Redis lists it (`Published.lost`)."""
        groups = self._keys.bumps(tags, everything=everything)
        ttl = max(1, gen_ttl_ms)
        if not self.clustered:
            ((seq, *gens),) = groups
            keys = [seq, self._registry, self._lost, *gens]
            args: list[bytes | str | int] = [ttl, self.channel, message, origin, int(listed)]
            reply = await self._call(lambda: self._invalidate(keys=keys, args=args))
        else:
            # All groups before the announcement: an instance that drops its memory copy on
            # the message must find only moved generations when it reads Redis again.
            await asyncio.gather(*(self._bump_group(keys, ttl) for keys in groups))
            announce: list[bytes | str | int] = [self.channel, message, origin, int(listed)]
            reply = await self._call(
                lambda: self._announce(keys=[self._registry, self._lost], args=announce)
            )
        receivers, members, lost = reply
        return Published(
            int(receivers),
            frozenset(bytes(member).decode() for member in members),
            lost=bool(lost),
        )

    async def _bump_group(self, keys: list[str], ttl_ms: int) -> None:
        await self._call(lambda: self._bump(keys=keys, args=[ttl_ms]))

    async def register(self, origin: str, *, ttl_ms: int, listed: bool = False) -> None:
        """Be counted as live (writers wait for this origin's acks) for `ttl_ms`. `listed`:
        this origin's previous registration should still be there."""
        args: list[bytes | str | int] = [origin, max(1, ttl_ms), int(listed)]
        await self._call(lambda: self._register(keys=[self._registry, self._lost], args=args))

    async def deregister(self, origin: str) -> None:
        await self._call(lambda: self._client.zrem(self._registry, origin))

    async def publish(self, channel: str, message: bytes) -> None:
        if self.clustered:
            await self._call(lambda: self._client.spublish(channel, message))
        else:
            await self._call(lambda: self._client.publish(channel, message))

    async def aclose(self) -> None:
        await self._client.aclose()
        if self._listener is not None and self._listener is not self._client:
            await self._listener.aclose()
        if self._session_client is not None:
            await self._session_client.aclose()

    def _gen_keys(self, key: str, tags: Sequence[str]) -> list[str]:
        return self._keys.gen_keys(key, tags)

    def _value_base(self, key: str) -> str:
        return self._keys.value_base(key)

    async def _call(self, op: Callable[[], Awaitable[T]]) -> T:
        try:
            async with asyncio.timeout(self._timeout):
                return await op()
        except TimeoutError as exc:  # asyncio's, and redis' TimeoutError subclasses neither
            raise CacheTimeoutError(f"redis call exceeded {self._timeout * 1000:.0f} ms") from exc
        except (RedisError, OSError) as exc:
            raise CacheBackendError(f"redis call failed: {exc}") from exc
