"""The ledger of changes the API has invalidated, for the stream consumer to leave alone.

A write use case notes, after its invalidation returned, each item key it changed and the mark
the change left on it (service.store.changes), or `REMOVED` for a key it deleted. The consumer
asks before invalidating a record: a record that is the noted change itself (the new image
carries a mark noted for its key; for a REMOVE, the key was noted as deleted) is already
invalidated everywhere the API's invalidation reaches. A key keeps every mark noted for it
within `ttl_s` (listing writes in one category each change the category's count), and a
REMOVED entry is taken when it is matched, so the next removal of that key counts again.

Where the ledger lives is where the API's invalidation reaches: with Redis, every instance
(`RedisLedger`, one key per item key under the cache's prefix); without Redis, this process
alone (`LocalLedger`), since each process then has its own consumer and its own memory.
Region: marks name the region that wrote them, and the ledger is per region (its Redis), so a
write replicated from another region is never found here and is invalidated.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis, RedisCluster
from redis.exceptions import RedisError

from service.config import Settings
from service.store.changes import REMOVED, ChangeSet, ItemKey, item_key, mark_of, region_of
from service.store.keys import PK, SK

log = logging.getLogger(__name__)
MAX_LOCAL_ENTRIES = 100_000


@dataclass(frozen=True, slots=True)
class Claim:
    """What a stream record would have to match to be the API's own change: its key, and the
    mark it carries (REMOVED for a REMOVE)."""

    key: ItemKey
    mark: str


class LocalLedger:
    def __init__(
        self, *, region: str, ttl_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._region = region
        self._ttl = ttl_s
        self._clock = clock
        self._entries: OrderedDict[ItemKey, dict[str, float]] = OrderedDict()

    @property
    def region(self) -> str:
        return self._region

    async def remember(self, change: ChangeSet) -> None:
        now = self._clock()
        for key, mark in change.changed.items():
            marks = {m: t for m, t in self._entries.get(key, {}).items() if t >= now}
            marks[mark] = now + self._ttl
            self._entries[key] = marks
            self._entries.move_to_end(key)
        while len(self._entries) > MAX_LOCAL_ENTRIES:
            self._entries.popitem(last=False)

    async def take(self, claims: Sequence[Claim]) -> set[int]:
        now, found = self._clock(), set()
        for index, claim in enumerate(claims):
            marks = self._entries.get(claim.key, {})
            if marks.get(claim.mark, -1.0) < now:
                continue
            found.add(index)
            if claim.mark == REMOVED:
                del marks[claim.mark]
        return found


class RedisLedger:
    """Fails open both ways: a note that cannot be written leaves the consumer to invalidate,
    a lookup that fails counts as not found (the consumer invalidates once more)."""

    def __init__(
        self, client: Redis | RedisCluster, *, prefix: str, region: str, ttl_s: float
    ) -> None:
        self._client = client
        self._prefix = f"{prefix}:handled:"
        self._region = region
        self._ttl_ms = max(1, int(ttl_s * 1000))

    @property
    def region(self) -> str:
        return self._region

    def _key(self, key: ItemKey) -> str:
        return f"{self._prefix}{key[0]}\x1f{key[1]}"

    async def remember(self, change: ChangeSet) -> None:
        if not change.changed:
            return

        async def note(key: ItemKey, mark: str) -> None:
            name = self._key(key)
            await self._client.sadd(name, mark)
            await self._client.pexpire(name, self._ttl_ms)

        try:
            # Commands per key: in cluster mode the keys live on different nodes.
            await asyncio.gather(*(note(key, mark) for key, mark in change.changed.items()))
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("could not note a change for the stream consumer: %r", exc)

    async def take(self, claims: Sequence[Claim]) -> set[int]:
        if not claims:
            return set()
        try:
            members = await asyncio.gather(
                *(self._client.sismember(self._key(c.key), c.mark) for c in claims)
            )
            found = {index for index, member in enumerate(members) if member}
            taken = [self._key(claims[i].key) for i in found if claims[i].mark == REMOVED]
            if taken:
                await asyncio.gather(*(self._client.srem(key, REMOVED) for key in taken))
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("could not read the ledger of handled changes: %r", exc)
            return set()
        return found

    async def aclose(self) -> None:
        await self._client.aclose()


_TTL_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
_REPLICA_REGION = "aws:rep:updateregion"


def claim_of(record: Mapping[str, Any], region: str) -> Claim | None:
    """The claim a record must match to be skipped; None when it must be invalidated whatever
    the ledger says: a change made outside the API (no mark, or a mark the change did not
    set), a write replicated from another region, or a deletion by the table's TTL."""
    change = record.get("dynamodb", {})
    old, new = change.get("OldImage"), change.get("NewImage")
    image = new if new is not None else old
    if image is None or PK not in image or SK not in image:
        return None
    if _identity(record) == _TTL_IDENTITY:
        return None
    # Global tables 2017.11.29 name the region that wrote an item; 2019.11.21 do not, and the
    # mark's own region says it then.
    replica = image.get(_REPLICA_REGION)
    if isinstance(replica, Mapping) and replica.get("S") not in (None, region):
        return None
    key = item_key(image)
    if new is None:
        return Claim(key, REMOVED)
    mark = mark_of(new)
    if mark is None or mark == mark_of(old) or region_of(mark) != region:
        return None
    return Claim(key, mark)


def _identity(record: Mapping[str, Any]) -> dict[str, str]:
    raw = record.get("userIdentity")
    if not isinstance(raw, Mapping):
        return {}
    # boto3 spells the members Type / PrincipalId; the stream's JSON type / principalId.
    return {
        "type": str(raw.get("type", raw.get("Type", ""))),
        "principalId": str(raw.get("principalId", raw.get("PrincipalId", ""))),
    }


@contextlib.asynccontextmanager
async def redis_ledger(settings: Settings) -> AsyncIterator[RedisLedger]:
    """A ledger in the cache's Redis (its URL, prefix and timeout), closed on exit."""
    assert settings.redis_url is not None
    options: dict[str, Any] = {
        "socket_timeout": settings.redis_timeout_s,
        "socket_connect_timeout": settings.redis_timeout_s,
    }
    client: Redis | RedisCluster = (
        RedisCluster.from_url(settings.redis_url, **options)
        if settings.redis_cluster
        else Redis.from_url(settings.redis_url, **options)
    )
    ledger = RedisLedger(
        client,
        prefix=settings.redis_prefix,
        region=settings.aws_region,
        ttl_s=settings.stream_handled_ttl_s,
    )
    try:
        yield ledger
    finally:
        await ledger.aclose()
