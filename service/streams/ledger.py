"""The ledger of changes the API has invalidated, for the stream consumer to leave alone.

A write use case notes, after its invalidation returned, each item key it changed and the mark
the change left on it (service.store.changes), or `REMOVED` for a key it deleted. The consumer
asks before invalidating a record: a record that is the noted change itself (the new image
carries a mark noted for its key; for a REMOVE, the key was noted as deleted) is already
invalidated everywhere the API's invalidation reaches. A key keeps every mark noted for it
within `ttl_s` (listing writes in one category each change the category's count), and a
REMOVED entry is taken when it is matched, so the next removal of that key counts again.

A REMOVE has no new image to carry the deleting request's id, so the ledger keeps it: a
deletion is noted as REMOVED followed by the write's request id (REMOVED alone for a write
without one), and a match hands that id back (service.streams.attribution). A release before
ids noted REMOVED alone: such an entry, left in Redis during a rolling deploy, still matches,
naming no request. The other way round, a release before ids does not recognise the new note
and invalidates the record once more, as it does for any change it cannot find. Two deletions
of one key noted and neither matched yet (deleted, created again and deleted within `ttl_s`,
ahead of the consumer) cannot be told apart: the first REMOVE takes both notes and names no
request, and the second is invalidated, as when one note stood for both.

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


def removal_note(request_id: str | None) -> str:
    """How a deletion is noted: REMOVED, then the deleting request's id if it had one."""
    return REMOVED + (request_id or "")


def _noted(change: ChangeSet) -> dict[ItemKey, str]:
    note = removal_note(change.request_id)
    return {key: note if mark == REMOVED else mark for key, mark in change.changed.items()}


def _removed_by(notes: Sequence[str]) -> str | None:
    """The request the removal notes of one key name: one note's id; none for two or more,
    which the REMOVE records cannot be matched to one by one."""
    if len(notes) != 1:
        return None
    return notes[0][len(REMOVED) :] or None


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
        for key, mark in _noted(change).items():
            marks = {m: t for m, t in self._entries.get(key, {}).items() if t >= now}
            marks[mark] = now + self._ttl
            self._entries[key] = marks
            self._entries.move_to_end(key)
        while len(self._entries) > MAX_LOCAL_ENTRIES:
            self._entries.popitem(last=False)

    async def take(self, claims: Sequence[Claim]) -> dict[int, str | None]:
        now = self._clock()
        found: dict[int, str | None] = {}
        for index, claim in enumerate(claims):
            marks = self._entries.get(claim.key, {})
            if claim.mark != REMOVED:
                if marks.get(claim.mark, -1.0) >= now:
                    found[index] = None
                continue
            notes = [m for m, expires in marks.items() if m.startswith(REMOVED) and expires >= now]
            if notes:
                found[index] = _removed_by(notes)
                for note in notes:
                    del marks[note]
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
            await asyncio.gather(*(note(key, mark) for key, mark in _noted(change).items()))
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("could not note a change for the stream consumer: %r", exc)

    async def take(self, claims: Sequence[Claim]) -> dict[int, str | None]:
        if not claims:
            return {}
        marked = [i for i, claim in enumerate(claims) if claim.mark != REMOVED]
        removed = [i for i, claim in enumerate(claims) if claim.mark == REMOVED]
        try:
            members, removals = await asyncio.gather(
                asyncio.gather(
                    *(
                        self._client.sismember(self._key(claims[i].key), claims[i].mark)
                        for i in marked
                    )
                ),
                self._take_removals([claims[i].key for i in removed]),
            )
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("could not read the ledger of handled changes: %r", exc)
            return {}
        found: dict[int, str | None] = {
            i: None for i, member in zip(marked, members, strict=True) if member
        }
        found.update({removed[position]: rid for position, rid in removals.items()})
        return found

    async def _take_removals(self, keys: Sequence[ItemKey]) -> dict[int, str | None]:
        """The positions of the keys noted as deleted, each with the request id noted; their
        notes are taken."""
        # Every member of each key: a removal's note holds an id, which SISMEMBER cannot find.
        sets = await asyncio.gather(*(self._client.smembers(self._key(key)) for key in keys))
        found: dict[int, str | None] = {}
        taken: dict[ItemKey, list[str]] = {}
        for position, (key, members) in enumerate(zip(keys, sets, strict=True)):
            notes = [note for note in map(_text, members) if note.startswith(REMOVED)]
            # Two REMOVEs of one key in a batch: the notes are the first one's.
            if notes and key not in taken:
                found[position] = _removed_by(notes)
                taken[key] = notes
        if taken:
            await asyncio.gather(*(self._client.srem(self._key(k), *n) for k, n in taken.items()))
        return found

    async def aclose(self) -> None:
        await self._client.aclose()


def _text(member: bytes | str) -> str:
    return member.decode() if isinstance(member, bytes) else member


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
