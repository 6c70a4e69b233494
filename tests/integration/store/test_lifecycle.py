"""Lifecycle: audit events carry the table's TTL attribute, `expiresAt`, at their time plus the
retention setting; DynamoDB's TTL deletes them, and the list never shows an expired one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from types_aiobotocore_dynamodb import DynamoDBClient

from service.config import Settings
from service.store import keys
from service.store.common import Repository
from service.store.keys import TTL_ATTRIBUTE
from service.store.rules import ItemRules
from service.store.stores import build_stores, cursor_codec
from service.store.table import Table
from tests.integration.store.support import category_data


async def audit_items(dynamodb: DynamoDBClient, name: str, at: datetime) -> list[dict[str, Any]]:
    found = await dynamodb.query(
        TableName=name,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": keys.audit_partition(at)}},
        ConsistentRead=True,
    )
    return [dict(item) for item in found["Items"]]


async def test_the_table_expires_items_on_expires_at(
    dynamodb: DynamoDBClient, store_settings: Settings
) -> None:
    described = await dynamodb.describe_time_to_live(TableName=store_settings.table_name)
    ttl = described["TimeToLiveDescription"]
    assert (ttl.get("AttributeName"), ttl.get("TimeToLiveStatus")) == (TTL_ATTRIBUTE, "ENABLED")


async def test_audit_events_expire_after_the_retention_and_expired_ones_are_not_listed(
    table: Table, dynamodb: DynamoDBClient, store_settings: Settings
) -> None:
    # A clock of the test's own, in a month of its own: the partition holds only its events.
    made = datetime(2031, 5, 17, 9, 30, tzinfo=UTC)
    clock = [made]
    rules = ItemRules(audit_retention=timedelta(days=30))
    stores = build_stores(table, cursor_codec(store_settings), rules=rules)
    for store in (stores.categories, stores.audit):
        assert isinstance(store, Repository)
        store._clock = lambda: clock[0]
    category = await stores.categories.create(category_data(), actor="admin-1")

    (item,) = await audit_items(dynamodb, store_settings.table_name, made)
    assert item[TTL_ATTRIBUTE] == {"N": str(int((made + timedelta(days=30)).timestamp()))}
    listed = await stores.audit.list(limit=10, cursor=None)
    assert [e.entity_id for e in listed.items] == [category.id]

    # Past the retention, before DynamoDB's TTL got to it (it deletes within days):
    clock[0] = made + timedelta(days=30, seconds=1)
    assert (await stores.audit.list(limit=10, cursor=None)).items == []


async def test_a_retention_of_none_keeps_audit_events(
    table: Table, dynamodb: DynamoDBClient, store_settings: Settings
) -> None:
    made = datetime(2032, 2, 3, tzinfo=UTC)
    rules = ItemRules(audit_retention=None)
    stores = build_stores(table, cursor_codec(store_settings), rules=rules)
    assert isinstance(stores.categories, Repository)
    stores.categories._clock = lambda: made
    await stores.categories.create(category_data(), actor="admin-1")
    (item,) = await audit_items(dynamodb, store_settings.table_name, made)
    assert TTL_ATTRIBUTE not in item


def test_the_retention_setting_becomes_the_rules() -> None:
    assert ItemRules.from_settings(Settings(mode="test")).audit_retention == timedelta(days=730)
    kept = Settings(mode="test", audit_retention_days=0)
    assert ItemRules.from_settings(kept).audit_retention is None
    with pytest.raises(ValueError, match="not one this release writes"):
        ItemRules(write_version=3)
