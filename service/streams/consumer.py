"""Reading the table's DynamoDB stream and invalidating what each change made stale.

Shards: DescribeStream (paged) lists the stream's shards; each shard not seen before gets a
reader task holding one shard iterator, which GetRecords advances. A shard that a split or the
periodic roll-over closed answers without a NextShardIterator once it is read to its end; its
reader then finishes and a new listing finds its children. Listing also runs every
`refresh_interval_s`, and fetches the stream's ARN again each time (a stream disabled and
enabled again has a new one).

Order does not matter: an invalidation drops tags, and dropping the same tags twice or in
another order leaves the same cache. So shards are read at once, a child without waiting for
its parent, and a batch is applied at least once: its iterator advances only after its
invalidation was sent, and a failure retries the same batch after a backoff.

Start: shards open when the consumer first lists them are read from `start_at`. `LATEST` means
changes from now on, and `start()` takes those positions before it returns, so every change
committed after it returned is seen; `TRIM_HORIZON` replays the stream's last 24 h as
invalidations. Shards found later (children of a split) are read from TRIM_HORIZON: every
record in them is new to us.

One invalidation per change: with a ledger (service.streams.ledger), a record that is a change
the API made and has already invalidated is counted as `handled` and not invalidated again; a
change made outside the API, a write replicated from another region and a TTL deletion always
are. A record that looks like the API's own but is not (yet) in the ledger is looked up again
after `grace_s` (the API notes its changes once its invalidation returned, which may be after
the stream has the record), then invalidated if still not found. Each record applied gets a
log line, which names the request of a change the ledger held (service.streams.attribution).

Errors: every failed call is counted and retried after a backoff that doubles up to
`retry_cap_s` and resets after a success. An expired iterator is taken again after the last
sequence number applied; trimmed data (the reader fell more than 24 h behind) restarts the
shard at TRIM_HORIZON.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from botocore import xform_name
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from opentelemetry.trace import Tracer
from types_aiobotocore_dynamodbstreams import DynamoDBStreamsClient

from cache import cancel_and_wait
from service.errors import StoreError
from service.streams.attribution import log_applied
from service.streams.changetags import tags_for_change
from service.streams.ledger import Claim, claim_of
from service.streams.observer import StreamObserver

log = logging.getLogger(__name__)

StartAt = Literal["LATEST", "TRIM_HORIZON"]
StreamArn = Callable[[], Awaitable[str | None]]
Invalidate = Callable[[Iterable[str]], Awaitable[None]]


class Ledger(Protocol):
    async def take(self, claims: Sequence[Claim]) -> dict[int, str | None]:
        """The indexes of the claims the API noted as invalidated, each with the request id
        the ledger noted with it (a deletion's; None for the rest, whose id is their item's)."""


MAX_RECORDS = 1000  # GetRecords' own maximum
_MAX_LISTING_PAGES = 100  # DescribeStream pages of 100 shards; a table has a few dozen at most


class StreamUnavailable(Exception):
    """A stream call failed; `operation` and `code` are what the metrics count."""

    def __init__(self, operation: str, code: str) -> None:
        super().__init__(f"{operation} failed: {code}")
        self.operation = operation
        self.code = code


@dataclass(slots=True)
class ShardPosition:
    shard_id: str
    start: StartAt
    iterator: str | None = None
    last_sequence: str | None = None


class StreamConsumer:
    def __init__(
        self,
        streams: DynamoDBStreamsClient,
        *,
        stream_arn: StreamArn,
        invalidate: Invalidate,
        observer: StreamObserver,
        start_at: StartAt,
        poll_interval_s: float,
        refresh_interval_s: float,
        retry_base_s: float,
        retry_cap_s: float,
        ledger: Ledger | None = None,
        region: str = "",
        grace_s: float = 0.0,
        clock: Callable[[], float] = time.time,
        tracer: Tracer | None = None,
    ) -> None:
        self._streams = streams
        self._stream_arn = stream_arn
        self._invalidate = invalidate
        self._observer = observer
        self._start_at: StartAt = start_at
        self._poll_s = poll_interval_s
        self._refresh_s = refresh_interval_s
        self._retry_base_s = retry_base_s
        self._retry_cap_s = retry_cap_s
        self._clock = clock
        self._tracer = tracer
        self._ledger = ledger
        self._region = region
        self._grace_s = grace_s
        self._listed_once = False
        self._known: set[str] = set()
        # Shards whose reader stopped without reading them to the end (a shard the API said
        # was not found, a reader that failed): the next listing resumes them from here.
        self._parked: dict[str, ShardPosition] = {}
        self._readers: dict[str, asyncio.Task[None]] = {}
        self._shards_changed = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None

    @property
    def shards(self) -> Sequence[str]:
        return tuple(self._readers)

    async def start(self, *, within: float) -> bool:
        """List the shards and take their start positions (at most `within` seconds), then
        read in the background. False if the first listing failed: it is retried there."""
        listed = False
        try:
            async with asyncio.timeout(within):
                await self._list_and_spawn()
            listed = True
        except (StreamUnavailable, TimeoutError) as exc:
            self._count_failure(exc)
            log.warning("stream not readable yet (%s); retrying in the background", exc)
        self._supervisor = asyncio.create_task(self._supervise(), name="stream-supervisor")
        return listed

    async def stop(self) -> None:
        tasks = [*self._readers.values()]
        if self._supervisor is not None:
            tasks.append(self._supervisor)
        await cancel_and_wait(tasks, within=5.0)

    async def _supervise(self) -> None:
        # Listings at least this far apart, even when readers keep finishing (a reader that
        # fails at once each time it is resumed must not turn into a tight listing loop).
        gap = min(1.0, self._refresh_s)
        failures = 0
        while True:
            if failures or not self._listed_once:
                await asyncio.sleep(self._backoff(failures) if failures else 0)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._shards_changed.wait(), self._refresh_s)
            self._shards_changed.clear()
            try:
                await self._list_and_spawn()
            except StreamUnavailable as exc:
                failures += 1
                self._count_failure(exc)
                continue
            except Exception as exc:  # a bug must not end the listing for good
                failures += 1
                log.exception("listing the stream's shards failed")
                self._observer.error("Supervisor", type(exc).__name__)
                continue
            failures = 0
            await asyncio.sleep(gap)

    async def _list_and_spawn(self) -> None:
        arn = await self._arn()
        listed = await self._list_shards(arn)
        first = not self._listed_once
        fresh: list[ShardPosition] = []
        for shard in listed:
            shard_id = str(shard["ShardId"])
            if shard_id in self._known:
                continue
            parked = self._parked.pop(shard_id, None)
            if parked is not None:
                fresh.append(parked)
                continue
            closed = "EndingSequenceNumber" in shard.get("SequenceNumberRange", {})
            if first and closed and self._start_at == "LATEST":
                self._known.add(shard_id)  # everything in it is older than our start
                continue
            fresh.append(ShardPosition(shard_id, self._start_at if first else "TRIM_HORIZON"))
        if first:
            # Positions taken before start() returns: LATEST means "after this call".
            for position in fresh:
                position.iterator = await self._iterator(arn, position)
        for position in fresh:
            self._known.add(position.shard_id)
            self._spawn(arn, position)
        # DescribeStream lists 24 h of shards; forgetting older ids keeps the set that small.
        listed_ids = {str(shard["ShardId"]) for shard in listed}
        self._known &= listed_ids | set(self._readers)
        self._parked = {k: v for k, v in self._parked.items() if k in listed_ids}
        self._listed_once = True

    def _spawn(self, arn: str, position: ShardPosition) -> None:
        task = asyncio.create_task(self._read(arn, position), name=f"stream-{position.shard_id}")
        self._readers[position.shard_id] = task

        def finished(done: asyncio.Task[None]) -> None:
            self._readers.pop(position.shard_id, None)
            if not done.cancelled() and (exc := done.exception()) is not None:
                # A bug, not a stream error (those are retried inside): count it, and let the
                # next listing resume the shard after its last applied record.
                log.error("stream reader of %s failed", position.shard_id, exc_info=exc)
                self._observer.error("Reader", type(exc).__name__)
                self._park(position)
            self._observer.shards(len(self._readers))
            self._shards_changed.set()  # a closed shard: its children are there to find

        task.add_done_callback(finished)
        self._observer.shards(len(self._readers))

    def _park(self, position: ShardPosition) -> None:
        position.iterator = None
        self._known.discard(position.shard_id)
        self._parked[position.shard_id] = position

    async def _arn(self) -> str:
        try:
            arn = await self._stream_arn()
        except StoreError as exc:
            raise StreamUnavailable("DescribeTable", exc.code) from exc
        if arn is None:
            raise StreamUnavailable("DescribeTable", "StreamNotEnabled")
        return arn

    async def _list_shards(self, arn: str) -> list[Mapping[str, Any]]:
        shards: list[Mapping[str, Any]] = []
        after: str | None = None
        for _ in range(_MAX_LISTING_PAGES):
            kwargs: dict[str, Any] = {"StreamArn": arn}
            if after is not None:
                kwargs["ExclusiveStartShardId"] = after
            description = (await self._call("DescribeStream", **kwargs))["StreamDescription"]
            shards.extend(description.get("Shards", []))
            after = description.get("LastEvaluatedShardId")
            if not after:
                break
        return shards

    async def _iterator(self, arn: str, position: ShardPosition) -> str:
        kwargs: dict[str, Any] = {"StreamArn": arn, "ShardId": position.shard_id}
        if position.last_sequence is not None:
            kwargs.update(
                ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=position.last_sequence
            )
        else:
            # A LATEST shard whose iterator is lost before its first record comes back at
            # LATEST: what was written in between is missed (DynamoDB has no way to turn an
            # iterator into a position). Only failures right after start can cause that.
            kwargs["ShardIteratorType"] = position.start
        return str((await self._call("GetShardIterator", **kwargs))["ShardIterator"])

    async def _read(self, arn: str, position: ShardPosition) -> None:
        failures = 0
        while True:
            try:
                if position.iterator is None:
                    position.iterator = await self._iterator(arn, position)
                response = await self._call(
                    "GetRecords", ShardIterator=position.iterator, Limit=MAX_RECORDS
                )
            except StreamUnavailable as exc:
                self._count_failure(exc)
                if exc.code == "ResourceNotFoundException":
                    # Gone, or not visible yet: if the next listing still names it, it resumes.
                    self._park(position)
                    return
                position.iterator = None
                if exc.code == "TrimmedDataAccessException":
                    position.start, position.last_sequence = "TRIM_HORIZON", None
                failures += 1
                await asyncio.sleep(self._backoff(failures))
                continue
            failures = 0
            records: list[Mapping[str, Any]] = response.get("Records", [])
            await self._apply(records)
            if records:
                position.last_sequence = str(records[-1]["dynamodb"]["SequenceNumber"])
            position.iterator = response.get("NextShardIterator")
            if position.iterator is None:
                return  # closed and read to its end
            if len(records) < MAX_RECORDS:
                await asyncio.sleep(self._poll_s)

    async def _apply(self, records: Sequence[Mapping[str, Any]]) -> None:
        if not records:
            return
        found: list[frozenset[str]] = []
        newest: datetime | None = None
        for record in records:
            change = record.get("dynamodb", {})
            found.append(tags_for_change(change.get("OldImage"), change.get("NewImage")))
            created = change.get("ApproximateCreationDateTime")
            if isinstance(created, datetime) and (newest is None or created > newest):
                newest = created
        handled = await self._handled(records, found)
        for index, (record, tags) in enumerate(zip(records, found, strict=True)):
            event = str(record.get("eventName", ""))
            done = index in handled
            invalidates = bool(tags) and not done
            self._observer.record(event, invalidates=invalidates, handled=done)
            effect = "handled" if done else "invalidated" if invalidates else "none"
            log_applied(
                record,
                effect=effect,
                noted=done,
                removed_by=handled.get(index),
                tracer=self._tracer,
            )
        if newest is not None:
            # DynamoDB rounds the creation time down to the second: an age up to 1 s high.
            self._observer.lag(max(0.0, self._clock() - newest.timestamp()))

    async def _handled(
        self, records: Sequence[Mapping[str, Any]], found: Sequence[frozenset[str]]
    ) -> dict[int, str | None]:
        """Invalidate every record's tags but those of changes the API has invalidated itself;
        which records those were, each with the request id the ledger noted with it."""
        handled: dict[int, str | None] = {}
        claims: dict[int, Claim] = {}
        if self._ledger is not None:
            for index, (record, tags) in enumerate(zip(records, found, strict=True)):
                claim = claim_of(record, self._region) if tags else None
                if claim is not None:
                    claims[index] = claim
        waiting = await self._taken(claims, handled)
        now = set().union(
            *(t for i, t in enumerate(found) if i not in waiting and i not in handled)
        )
        if now:
            await self._send(now)
        if waiting:
            # The API notes a change once its invalidation has returned; the stream may be
            # quicker. One more look after the grace, then it is ours to invalidate.
            await asyncio.sleep(self._grace_s)
            left = await self._taken({i: claims[i] for i in waiting}, handled)
            late = set().union(*(found[i] for i in left))
            if late:
                await self._send(late)
        return handled

    async def _taken(self, claims: Mapping[int, Claim], handled: dict[int, str | None]) -> set[int]:
        """Puts the claims the ledger holds into `handled`; the indexes it does not hold."""
        if not claims or self._ledger is None:
            return set()
        order = list(claims)
        try:
            taken = await self._ledger.take([claims[i] for i in order])
        except Exception as exc:  # noqa: BLE001 - a ledger that fails means invalidating again
            self._observer.error("Ledger", type(exc).__name__)
            taken = {}
        for position, request_id in taken.items():
            handled[order[position]] = request_id
        return {i for position, i in enumerate(order) if position not in taken}

    async def _send(self, tags: set[str]) -> None:
        attempt = 0
        while True:
            try:
                await self._invalidate(sorted(tags))
            except Exception as exc:  # noqa: BLE001 - counted and retried; the batch must land
                attempt += 1
                self._observer.error("Invalidate", type(exc).__name__)
                log.warning("stream invalidation failed (%r); retrying", exc)
                await asyncio.sleep(self._backoff(attempt))
                continue
            self._observer.invalidated(len(tags))
            return

    async def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        method: Callable[..., Awaitable[Any]] = getattr(self._streams, xform_name(operation))
        try:
            response: dict[str, Any] = await method(**kwargs)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", "Unknown"))
            raise StreamUnavailable(operation, code) from exc
        except (BotoConnectionError, HTTPClientError) as exc:
            raise StreamUnavailable(operation, type(exc).__name__) from exc
        return response

    def _count_failure(self, exc: StreamUnavailable | TimeoutError) -> None:
        if isinstance(exc, StreamUnavailable):
            self._observer.error(exc.operation, exc.code)
        else:
            self._observer.error("Start", "Timeout")

    def _backoff(self, failures: int) -> float:
        """Doubling from retry_base_s up to retry_cap_s, the upper half jittered (never ~0,
        so a failing endpoint is never polled in a tight loop)."""
        ceiling = min(self._retry_cap_s, self._retry_base_s * 2.0 ** min(failures - 1, 30))
        return ceiling / 2 + random.uniform(0, ceiling / 2)
