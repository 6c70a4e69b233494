"""An in-memory DynamoDB Streams API (DescribeStream, GetShardIterator, GetRecords) with what
moto's single never-closing shard cannot show: shard lineage, closed shards, paged listings,
expired iterators and injected errors. Answers and errors have the shapes botocore returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/fake/stream/2026-12-02T00:00:00.000"


@dataclass
class FakeShard:
    shard_id: str
    parent: str | None = None
    records: list[dict[str, Any]] = field(default_factory=list)
    closed: bool = False
    first_sequence: int = 0


class FakeStream:
    def __init__(self, *, page_size: int = 2) -> None:
        self.shards: dict[str, FakeShard] = {}
        self.page_size = page_size
        self.failures: dict[str, list[str]] = {}  # operation -> codes to raise, in turn
        self.generation = 0  # iterators handed out before the current generation expired
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._next_sequence = 1000

    # -- arranging ---------------------------------------------------------------------------

    def add_shard(self, shard_id: str, *, parent: str | None = None) -> FakeShard:
        shard = FakeShard(shard_id, parent, first_sequence=self._next_sequence)
        self.shards[shard_id] = shard
        return shard

    def put(
        self,
        shard_id: str,
        old: dict[str, Any] | None,
        new: dict[str, Any] | None,
        *,
        identity: dict[str, str] | None = None,
    ) -> str:
        shard = self.shards[shard_id]
        assert not shard.closed
        sequence = str(self._next_sequence)
        self._next_sequence += 1
        change: dict[str, Any] = {
            "SequenceNumber": sequence,
            "ApproximateCreationDateTime": datetime.now(UTC),
            "Keys": {k: v for k, v in (old or new or {}).items() if k in ("PK", "SK")},
        }
        if old is not None:
            change["OldImage"] = old
        if new is not None:
            change["NewImage"] = new
        event = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
        record: dict[str, Any] = {"eventName": event, "dynamodb": change}
        if identity is not None:
            record["userIdentity"] = identity  # as boto3 spells it: Type, PrincipalId
        shard.records.append(record)
        return sequence

    def expire_iterators(self) -> None:
        """Every iterator handed out so far expires (as after 15 minutes unused)."""
        self.generation += 1

    def fail(self, operation: str, *codes: str) -> None:
        self.failures.setdefault(operation, []).extend(codes)

    # -- the API -----------------------------------------------------------------------------

    def _maybe_fail(self, operation: str, kwargs: dict[str, Any]) -> None:
        self.calls.append((operation, kwargs))
        queued = self.failures.get(operation)
        if queued:
            code = queued.pop(0)
            raise ClientError({"Error": {"Code": code, "Message": code}}, operation)

    async def describe_stream(self, **kwargs: Any) -> dict[str, Any]:
        self._maybe_fail("DescribeStream", kwargs)
        ids = list(self.shards)
        after = kwargs.get("ExclusiveStartShardId")
        start = ids.index(after) + 1 if after else 0
        page = ids[start : start + self.page_size]
        shards = []
        for shard_id in page:
            shard = self.shards[shard_id]
            numbers = {"StartingSequenceNumber": str(shard.first_sequence)}
            if shard.closed:
                numbers["EndingSequenceNumber"] = str(self._next_sequence)
            entry: dict[str, Any] = {"ShardId": shard_id, "SequenceNumberRange": numbers}
            if shard.parent:
                entry["ParentShardId"] = shard.parent
            shards.append(entry)
        description: dict[str, Any] = {"StreamArn": ARN, "Shards": shards}
        if start + self.page_size < len(ids):
            description["LastEvaluatedShardId"] = page[-1]
        return {"StreamDescription": description}

    async def get_shard_iterator(self, **kwargs: Any) -> dict[str, Any]:
        self._maybe_fail("GetShardIterator", kwargs)
        shard = self.shards[kwargs["ShardId"]]
        kind = kwargs["ShardIteratorType"]
        if kind == "TRIM_HORIZON":
            position = 0
        elif kind == "LATEST":
            position = len(shard.records)
        else:
            sequence = kwargs["SequenceNumber"]
            found = [r["dynamodb"]["SequenceNumber"] for r in shard.records].index(sequence)
            position = found + 1 if kind == "AFTER_SEQUENCE_NUMBER" else found
        return {"ShardIterator": f"{shard.shard_id}|{position}|{self.generation}"}

    async def get_records(self, **kwargs: Any) -> dict[str, Any]:
        self._maybe_fail("GetRecords", kwargs)
        shard_id, position_text, generation = kwargs["ShardIterator"].split("|")
        if int(generation) < self.generation:
            raise ClientError(
                {"Error": {"Code": "ExpiredIteratorException", "Message": "expired"}},
                "GetRecords",
            )
        shard, position = self.shards[shard_id], int(position_text)
        batch = shard.records[position : position + int(kwargs.get("Limit", 1000))]
        end = position + len(batch)
        answer: dict[str, Any] = {"Records": batch}
        if not (shard.closed and end >= len(shard.records)):
            answer["NextShardIterator"] = f"{shard_id}|{end}|{self.generation}"
        return answer
