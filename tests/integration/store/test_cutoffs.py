"""Cut-off notices in the table (service.store.cutoffs): a writer sees another process's
current notice, never its own, none past its `until`, and none once withdrawn."""

from __future__ import annotations

import time
import uuid

from types_aiobotocore_dynamodb import DynamoDBClient

from service.config import Settings
from service.store import keys
from service.store.cutoffs import KEEP_S, TableCutOffNotices
from service.store.table import Table


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


async def test_a_current_notice_of_another_process_is_seen_and_ones_own_is_not(
    table: Table,
) -> None:
    clock = Clock()
    notices = TableCutOffNotices(table, clock=clock)
    # Far ahead of every other test's notices, which have all lapsed by then.
    clock.now += 3600
    cut_off, writer = uuid.uuid4().hex, uuid.uuid4().hex
    assert not await notices.others(writer)
    await notices.announce(cut_off, valid_for=10.0)
    assert await notices.others(writer)
    assert not await notices.others(cut_off)  # a writer never waits for itself
    clock.now += 9.9
    assert await notices.others(writer)
    clock.now += 0.2
    assert not await notices.others(writer)  # lapsed: a crashed process stops counting


async def test_a_withdrawn_notice_counts_no_more_and_a_renewed_one_counts_longer(
    table: Table,
) -> None:
    clock = Clock()
    notices = TableCutOffNotices(table, clock=clock)
    clock.now += 7200
    cut_off, writer = uuid.uuid4().hex, uuid.uuid4().hex
    await notices.announce(cut_off, valid_for=10.0)
    clock.now += 8
    await notices.announce(cut_off, valid_for=10.0)
    clock.now += 8
    assert await notices.others(writer)  # 16 s after the first, 8 after the renewal
    await notices.withdraw(cut_off)
    assert not await notices.others(writer)


async def test_a_notice_is_one_small_item_the_table_expires_and_no_entity_kind(
    table: Table, dynamodb: DynamoDBClient, store_settings: Settings
) -> None:
    clock = Clock()
    origin = uuid.uuid4().hex
    await TableCutOffNotices(table, clock=clock).announce(origin, valid_for=10.0)
    found = await dynamodb.get_item(
        TableName=store_settings.table_name,
        Key={keys.PK: {"S": keys.CUT_OFF}, keys.SK: {"S": origin}},
        ConsistentRead=True,
    )
    item = found["Item"]
    assert int(item["until"]["N"]) == int((clock.now + 10.0) * 1000)
    assert int(item[keys.TTL_ATTRIBUTE]["N"]) == int(clock.now) + KEEP_S
    # The stream consumer invalidates nothing for it: its key names no entity.
    assert keys.kind_of(keys.CUT_OFF, origin) is None
