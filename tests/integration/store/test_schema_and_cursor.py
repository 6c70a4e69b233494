from __future__ import annotations

import pytest
from types_aiobotocore_dynamodb import DynamoDBClient

from service.errors import BadInput
from service.store.cursor import CursorCodec
from service.store.keys import TTL_ATTRIBUTE
from service.store.schema import (
    cloudformation_template,
    ensure_table,
    table_definition,
)
from tests.integration.store.support import unique


@pytest.mark.asyncio(loop_scope="session")
async def test_ensure_table_creates_once_with_the_definition(dynamodb: DynamoDBClient) -> None:
    name = unique("hh-schema")
    try:
        assert await ensure_table(dynamodb, name, production=False) is True
        assert await ensure_table(dynamodb, name, production=False) is False
        described = (await dynamodb.describe_table(TableName=name))["Table"]
        assert described["TableStatus"] == "ACTIVE"
        assert described.get("BillingModeSummary", {}).get("BillingMode") == "PAY_PER_REQUEST"
        (index,) = described["GlobalSecondaryIndexes"]
        assert (index["IndexName"], index["Projection"]["ProjectionType"]) == ("GSI1", "ALL")
        assert described["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
        ttl = await dynamodb.describe_time_to_live(TableName=name)
        assert ttl["TimeToLiveDescription"].get("AttributeName") == TTL_ATTRIBUTE
    finally:
        await dynamodb.delete_table(TableName=name)


def test_cloudformation_template_is_derived_from_the_definition() -> None:
    definition = table_definition("T", deletion_protection=True)
    resource = cloudformation_template("T")["Resources"]["DirectoryTable"]
    props = resource["Properties"]
    for field in ("TableName", "KeySchema", "AttributeDefinitions", "GlobalSecondaryIndexes"):
        assert props[field] == definition[field]
    assert props["DeletionProtectionEnabled"] is True
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["TimeToLiveSpecification"]["AttributeName"] == TTL_ATTRIBUTE
    assert resource["DeletionPolicy"] == "Retain"
    assert table_definition("T", deletion_protection=False)["DeletionProtectionEnabled"] is False


def test_cursor_round_trip_and_refusals() -> None:
    codec = CursorCodec(b"secret")
    key = {"PK": {"S": "A"}, "SK": {"S": "B"}}
    token = codec.encode_key("scope-1", key)
    assert codec.decode_key("scope-1", token, attrs=("PK", "SK")) == key
    with pytest.raises(BadInput):
        codec.decode_key("scope-2", token, attrs=("PK", "SK"))  # another list's cursor
    with pytest.raises(BadInput):
        CursorCodec(b"other").decode_key("scope-1", token, attrs=("PK", "SK"))
    with pytest.raises(BadInput):
        codec.decode_key("scope-1", token, attrs=("PK", "SK", "GSI1PK"))  # wrong shape
    signed_junk = codec.encode("scope-1", {"k": {"PK": {"N": "1"}, "SK": {"S": "B"}}})
    with pytest.raises(BadInput):
        codec.decode_key("scope-1", signed_junk, attrs=("PK", "SK"))
