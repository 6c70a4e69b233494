"""The consumer on an in-memory stream API (fakestream.py): start positions, shard splits and
closed shards, paged listings, errors retried with a bounded backoff, and its metrics on a real
StreamMetrics registry."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import asynccontextmanager
from typing import Any, cast

import pytest
from prometheus_client import CollectorRegistry

from metrics.registry import Metrics
from service.errors import StoreUnavailable
from service.store import keys
from service.store.codec import serialize
from service.streams.consumer import Ledger, StartAt, StreamConsumer
from tests.streams.fakestream import ARN, FakeStream


def listing(listing_id: str, title: str) -> dict[str, Any]:
    return {
        **keys.listing(listing_id),
        "slug": serialize(f"slug-{listing_id.lower()}"),
        "title": serialize(title),
    }


def audit(event_id: str) -> dict[str, Any]:
    return {**keys.key("AUDIT#2026-12", f"2026-12-02#{event_id}"), "actor": serialize("x")}


class Harness:
    def __init__(
        self,
        stream: FakeStream,
        *,
        start_at: StartAt,
        ledger: Ledger | None = None,
        region: str = "us-east-1",
        grace_s: float = 0.0,
    ) -> None:
        self.stream = stream
        self.invalidated: list[list[str]] = []
        self.fail_invalidations = 0
        self.arn: str | None = ARN
        self.arn_errors = 0
        self.metrics = Metrics(CollectorRegistry())
        self.consumer = StreamConsumer(
            cast(Any, stream),
            stream_arn=self._arn,
            invalidate=self._invalidate,
            observer=self.metrics.streams,
            start_at=start_at,
            poll_interval_s=0.01,
            refresh_interval_s=0.05,
            retry_base_s=0.01,
            retry_cap_s=0.04,
            ledger=ledger,
            region=region,
            grace_s=grace_s,
        )

    async def _arn(self) -> str | None:
        if self.arn_errors:
            self.arn_errors -= 1
            raise StoreUnavailable("DescribeTable failed", code="InternalServerError")
        return self.arn

    async def _invalidate(self, tags: Iterable[str]) -> None:
        if self.fail_invalidations:
            self.fail_invalidations -= 1
            raise ConnectionError("redis went away")
        self.invalidated.append(list(tags))

    def tags(self) -> set[str]:
        return {tag for batch in self.invalidated for tag in batch}

    def value(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels) or 0.0


@asynccontextmanager
async def running(harness: Harness, *, started: bool = True) -> Any:
    assert await harness.consumer.start(within=2.0) is started
    try:
        yield harness
    finally:
        await harness.consumer.stop()


async def until(condition: Callable[[], bool], *, within: float = 3.0) -> None:
    deadline = time.monotonic() + within
    for _ in polls(within):
        if condition():
            return
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


def polls(within: float) -> Iterator[int]:
    return iter(range(int(within / 0.01) + 10))


async def test_latest_skips_what_was_there_and_reads_what_comes_after_start() -> None:
    stream = FakeStream()
    stream.add_shard("shard-a")
    stream.put("shard-a", None, listing("OLD", "before start"))
    async with running(Harness(stream, start_at="LATEST")) as h:
        stream.put("shard-a", None, listing("NEW", "after start"))
        await until(lambda: "l:NEW" in h.tags())
        assert "l:OLD" not in h.tags()
        assert h.value("hustlehub_stream_records_total", event="INSERT", effect="invalidated") == 1


async def test_trim_horizon_replays_the_stream_including_closed_shards() -> None:
    stream = FakeStream()
    stream.add_shard("shard-a")
    stream.put("shard-a", None, listing("A1", "x"))
    stream.shards["shard-a"].closed = True
    stream.add_shard("shard-b", parent="shard-a")
    stream.put("shard-b", None, listing("B1", "x"))
    async with running(Harness(stream, start_at="TRIM_HORIZON")) as h:
        await until(lambda: {"l:A1", "l:B1"} <= h.tags())
        # The closed shard was read to its end and its reader finished.
        await until(lambda: h.consumer.shards == ("shard-b",))


async def test_a_split_closes_a_shard_and_its_children_are_read_from_their_start() -> None:
    stream = FakeStream(page_size=1)  # every listing is paged
    stream.add_shard("shard-a")
    stream.add_shard("shard-closed-before")
    stream.shards["shard-closed-before"].closed = True
    async with running(Harness(stream, start_at="LATEST")) as h:
        assert h.consumer.shards == ("shard-a",)  # LATEST: a closed shard is history
        stream.put("shard-a", None, listing("A1", "x"))
        await until(lambda: "l:A1" in h.tags())
        # The split: the parent closes, two children open and take records at once.
        stream.shards["shard-a"].closed = True
        for child in ("shard-c1", "shard-c2"):
            stream.add_shard(child, parent="shard-a")
        stream.put("shard-c1", None, listing("C1", "x"))
        stream.put("shard-c2", None, listing("C2", "x"))
        await until(lambda: {"l:C1", "l:C2"} <= h.tags())
        await until(lambda: set(h.consumer.shards) == {"shard-c1", "shard-c2"})
        assert h.value("hustlehub_stream_shards") == 2
        listings = [kw for op, kw in stream.calls if op == "DescribeStream"]
        assert any("ExclusiveStartShardId" in kw for kw in listings)
        starts = {
            kw["ShardId"]: kw["ShardIteratorType"]
            for op, kw in stream.calls
            if op == "GetShardIterator"
        }
        assert starts == {
            "shard-a": "LATEST",
            "shard-c1": "TRIM_HORIZON",
            "shard-c2": "TRIM_HORIZON",
        }


async def test_errors_are_counted_and_retried_after_a_bounded_backoff() -> None:
    stream = FakeStream()
    stream.add_shard("shard-a")
    async with running(Harness(stream, start_at="LATEST")) as h:
        stream.put("shard-a", None, listing("L1", "x"))
        await until(lambda: "l:L1" in h.tags())
        stream.fail("GetRecords", "ThrottlingException", "InternalServerError")
        stream.fail("GetShardIterator", "InternalServerError")
        started = time.monotonic()
        await until(lambda: not stream.failures["GetShardIterator"])
        stream.put("shard-a", None, listing("L2", "x"))
        await until(lambda: "l:L2" in h.tags())
        # Three backoffs, each at most the 0.04 s cap: nowhere near a second.
        assert time.monotonic() - started < 1.0
        errors = "hustlehub_stream_errors_total"
        assert h.value(errors, operation="GetRecords", code="ThrottlingException") == 1
        assert h.value(errors, operation="GetRecords", code="InternalServerError") == 1
        assert h.value(errors, operation="GetShardIterator", code="InternalServerError") == 1
        assert sum(batch.count("l:L1") for batch in h.invalidated) == 1


async def test_an_expired_iterator_resumes_after_the_last_record_applied() -> None:
    stream = FakeStream()
    stream.add_shard("shard-a")
    async with running(Harness(stream, start_at="LATEST")) as h:
        first = stream.put("shard-a", None, listing("L1", "x"))
        await until(lambda: "l:L1" in h.tags())
        stream.expire_iterators()
        stream.put("shard-a", None, listing("L2", "x"))
        await until(lambda: "l:L2" in h.tags())
        code = "ExpiredIteratorException"
        assert h.value("hustlehub_stream_errors_total", operation="GetRecords", code=code) == 1
        resumed = [
            kw
            for op, kw in stream.calls
            if op == "GetShardIterator" and kw["ShardIteratorType"] == "AFTER_SEQUENCE_NUMBER"
        ]
        assert [kw["SequenceNumber"] for kw in resumed] == [first]
        # Nothing applied twice, nothing skipped.
        assert [tag for batch in h.invalidated for tag in batch if tag.startswith("l:L")] == [
            "l:L1",
            "l:L2",
        ]


async def test_a_failed_invalidation_is_retried_before_the_shard_moves_on() -> None:
    stream = FakeStream()
    stream.add_shard("shard-a")
    h = Harness(stream, start_at="LATEST")
    h.fail_invalidations = 2
    async with running(h):
        stream.put("shard-a", listing("L1", "old"), listing("L1", "new"))
        await until(lambda: "l:L1" in h.tags())
        assert h.value("hustlehub_stream_errors_total", operation="Invalidate", code="other") == 2
        assert h.value("hustlehub_stream_invalidations_total") == 1
        assert h.value("hustlehub_stream_record_age_seconds_count") == 1


async def test_records_that_touch_no_cached_read_send_no_invalidation() -> None:
    stream = FakeStream()
    stream.add_shard("shard-a")
    async with running(Harness(stream, start_at="LATEST")) as h:
        for n in range(50):
            stream.put("shard-a", None, audit(f"E{n}"))
        same = listing("L1", "same")
        stream.put("shard-a", same, dict(same))  # a write that changed nothing
        none = "hustlehub_stream_records_total"
        await until(
            lambda: (
                h.value(none, event="INSERT", effect="none")
                + h.value(none, event="MODIFY", effect="none")
                == 51
            )
        )
        assert h.invalidated == []
        assert h.value("hustlehub_stream_invalidations_total") == 0


@pytest.mark.parametrize("failing", ["arn", "describe"])
async def test_a_stream_unreadable_at_start_does_not_block_and_is_read_once_it_answers(
    failing: str,
) -> None:
    stream = FakeStream()
    stream.add_shard("shard-a")
    h = Harness(stream, start_at="LATEST")
    if failing == "arn":
        h.arn_errors = 2
    else:
        stream.fail("DescribeStream", "LimitExceededException", "LimitExceededException")
    async with running(h, started=False):
        await until(lambda: h.consumer.shards == ("shard-a",))
        stream.put("shard-a", None, listing("L1", "x"))
        await until(lambda: "l:L1" in h.tags())
        errors = "hustlehub_stream_errors_total"
        if failing == "arn":
            assert h.value(errors, operation="DescribeTable", code="InternalServerError") == 2
        else:
            assert h.value(errors, operation="DescribeStream", code="LimitExceededException") == 2


async def test_a_table_without_a_stream_is_counted_and_retried() -> None:
    h = Harness(FakeStream(), start_at="LATEST")
    h.arn = None
    async with running(h, started=False):
        await until(
            lambda: (
                h.value(
                    "hustlehub_stream_errors_total",
                    operation="DescribeTable",
                    code="StreamNotEnabled",
                )
                >= 2
            )
        )
        assert h.consumer.shards == ()


async def test_a_shard_reported_not_found_is_resumed_where_it_stopped_if_still_listed() -> None:
    stream = FakeStream()
    stream.add_shard("shard-a")
    async with running(Harness(stream, start_at="LATEST")) as h:
        first = stream.put("shard-a", None, listing("L1", "x"))
        await until(lambda: "l:L1" in h.tags())
        stream.fail("GetRecords", "ResourceNotFoundException")
        await until(lambda: not stream.failures["GetRecords"])
        stream.put("shard-a", None, listing("L2", "x"))
        await until(lambda: "l:L2" in h.tags())
        resumed = [
            kw["SequenceNumber"]
            for op, kw in stream.calls
            if op == "GetShardIterator" and kw["ShardIteratorType"] == "AFTER_SEQUENCE_NUMBER"
        ]
        assert resumed == [first]
        assert [tag for batch in h.invalidated for tag in batch if tag.startswith("l:L")] == [
            "l:L1",
            "l:L2",
        ]
        assert h.consumer.shards == ("shard-a",)
