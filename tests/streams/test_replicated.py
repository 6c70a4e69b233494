"""Which stream records the consumer leaves to the API and which it invalidates: its own
region's API writes noted in the ledger are `handled`; changes made outside the API, writes
replicated from another region (global tables, either version) and TTL deletions are
invalidated in this region, with crafted records on the in-memory stream."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from service.store.changes import REMOVED, ChangeSet
from service.store.keys import PK, SK
from service.streams.ledger import Claim, LocalLedger
from tests.streams.fakestream import FakeStream
from tests.streams.test_consumer import Harness, listing, running, until

HERE, THERE = "us-east-1", "eu-west-1"
RECORDS = "hustlehub_stream_records_total"


def marked(item: dict[str, Any], mark: str) -> dict[str, Any]:
    return {**item, "changeId": {"S": mark}}


def key_of(item: dict[str, Any]) -> tuple[str, str]:
    return item[PK]["S"], item[SK]["S"]


async def noted(ledger: LocalLedger, entries: dict[tuple[str, str], str]) -> None:
    change = ChangeSet(HERE)
    change.changed.update(entries)
    await ledger.remember(change)


def applied(h: Harness) -> float:
    return sum(
        h.value(RECORDS, event=e, effect=f)
        for e in ("INSERT", "MODIFY", "REMOVE")
        for f in ("invalidated", "none", "handled")
    )


async def test_this_regions_api_changes_are_handled_and_nothing_else_is() -> None:
    stream = FakeStream()
    stream.add_shard("shard-a")
    ledger = LocalLedger(region=HERE, ttl_s=60)
    h = Harness(stream, start_at="LATEST", ledger=ledger, region=HERE)
    ours = marked(listing("L1", "new"), f"{HERE}/W1.1")
    gone = marked(listing("L2", "gone"), f"{HERE}/W0.1")
    await noted(ledger, {key_of(ours): f"{HERE}/W1.1", key_of(gone): REMOVED})
    async with running(h):
        stream.put("shard-a", marked(listing("L1", "old"), f"{HERE}/W0.1"), ours)
        stream.put("shard-a", gone, None)
        await until(lambda: applied(h) == 2)
        assert h.invalidated == []
        assert h.value(RECORDS, event="MODIFY", effect="handled") == 1
        assert h.value(RECORDS, event="REMOVE", effect="handled") == 1
        assert h.value("hustlehub_stream_invalidations_total") == 0

        # A console user edits the item after the API: the mark is unchanged, so not the
        # API's change whatever the ledger says; and a second removal of the key counts.
        stream.put("shard-a", ours, {**ours, "title": {"S": "by hand"}})
        stream.put("shard-a", listing("L2", "again"), None)
        await until(lambda: applied(h) == 4)
        assert h.tags() == {"l:L1", "l:slug-l1", "l:L2", "l:slug-l2"}


async def test_writes_replicated_from_another_region_are_invalidated_here() -> None:
    stream = FakeStream()
    stream.add_shard("shard-a")
    ledger = LocalLedger(region=HERE, ttl_s=60)
    h = Harness(stream, start_at="LATEST", ledger=ledger, region=HERE)
    # Global tables 2019.11.21: the item as the other region's API wrote it, its mark naming
    # that region. Even a ledger entry for the same key and mark does not make it ours.
    theirs = marked(listing("L3", "there"), f"{THERE}/W9.1")
    await noted(ledger, {key_of(theirs): f"{THERE}/W9.1"})
    # Global tables 2017.11.29: the replicated item names the region that wrote it.
    legacy_old = {**listing("L4", "old"), "aws:rep:updateregion": {"S": HERE}}
    legacy_new = {
        **marked(listing("L4", "there"), f"{HERE}/W5.1"),
        "aws:rep:updateregion": {"S": THERE},
    }
    await noted(ledger, {key_of(legacy_new): f"{HERE}/W5.1"})
    async with running(h):
        stream.put("shard-a", None, theirs)
        stream.put("shard-a", legacy_old, legacy_new)
        await until(lambda: applied(h) == 2)
        assert h.tags() == {"l:L3", "l:slug-l3", "l:L4", "l:slug-l4"}
        assert h.value(RECORDS, event="INSERT", effect="invalidated") == 1
        assert h.value(RECORDS, event="MODIFY", effect="invalidated") == 1


async def test_replication_bookkeeping_alone_and_ttl_deletions() -> None:
    stream = FakeStream()
    stream.add_shard("shard-a")
    ledger = LocalLedger(region=HERE, ttl_s=60)
    h = Harness(stream, start_at="LATEST", ledger=ledger, region=HERE)
    item = listing("L5", "same")
    expiring = listing("L6", "expired")
    await noted(ledger, {key_of(expiring): REMOVED})
    async with running(h):
        # 2017.11.29 adds its attributes to an item after the write: no change to readers.
        stream.put("shard-a", item, {**item, "aws:rep:updatetime": {"N": "1733130000.1"}})
        # A deletion by the table's TTL is not the API's, whatever the ledger holds.
        ttl = {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"}
        stream.put("shard-a", expiring, None, identity=ttl)
        await until(lambda: applied(h) == 2)
        assert h.value(RECORDS, event="MODIFY", effect="none") == 1
        assert h.tags() == {"l:L6", "l:slug-l6"}


class NotedLate:
    """The ledger as the consumer sees it when the API notes its change just after the
    consumer's first look (the stream was quicker than the API's invalidation)."""

    def __init__(self, ledger: LocalLedger, entries: dict[tuple[str, str], str]) -> None:
        self.ledger = ledger
        self.entries = entries
        self.looks = 0

    async def take(self, claims: Sequence[Claim]) -> dict[int, str | None]:
        self.looks += 1
        found = await self.ledger.take(claims)
        if self.looks == 1:
            await noted(self.ledger, self.entries)
        return found


async def test_a_change_noted_late_is_looked_up_again_after_the_grace() -> None:
    stream = FakeStream()
    stream.add_shard("shard-a")
    ours = marked(listing("L7", "new"), f"{HERE}/W7.1")
    late = marked(listing("L8", "new"), f"{HERE}/W8.1")
    # The API notes L7 after the first look; L8 it never notes (its process died between
    # the commit and the invalidation, say): the consumer's invalidation is the only one.
    ledger = NotedLate(LocalLedger(region=HERE, ttl_s=60), {key_of(ours): f"{HERE}/W7.1"})
    h = Harness(stream, start_at="LATEST", ledger=ledger, region=HERE, grace_s=0.05)
    async with running(h):
        stream.put("shard-a", listing("L7", "old"), ours)
        stream.put("shard-a", listing("L8", "old"), late)
        await until(lambda: applied(h) == 2)
        assert ledger.looks == 2
        assert h.value(RECORDS, event="MODIFY", effect="handled") == 1
        assert h.tags() == {"l:L8", "l:slug-l8"}
