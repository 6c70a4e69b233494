"""The dev and test emulator (`service.dev.motoserver`): a cancelled transaction leaves every item
it named exactly as it was, now that its backup holds those items and not the table."""

from __future__ import annotations

from uuid import uuid4

import pytest
from botocore.exceptions import ClientError
from types_aiobotocore_dynamodb import DynamoDBClient

from service.config import Settings


def _key(pk: str) -> dict[str, dict[str, str]]:
    return {"PK": {"S": pk}, "SK": {"S": "METADATA#x"}}


async def test_a_cancelled_transaction_restores_every_item_it_named(
    dynamodb: DynamoDBClient, store_settings: Settings
) -> None:
    table = store_settings.table_name
    run = uuid4().hex
    kept, updated, deleted, created, guard = (f"EMU#{run}#{name}" for name in "kudcg")
    for pk, value in ((kept, "k0"), (updated, "u0"), (deleted, "d0"), (guard, "g0")):
        await dynamodb.put_item(TableName=table, Item={**_key(pk), "v": {"S": value}})

    with pytest.raises(ClientError) as raised:
        await dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": {**_key(created), "v": {"S": "c1"}}}},
                {
                    "Update": {
                        "TableName": table,
                        "Key": _key(updated),
                        "UpdateExpression": "SET v = :v, extra = :v",
                        "ExpressionAttributeValues": {":v": {"S": "u1"}},
                    }
                },
                {"Delete": {"TableName": table, "Key": _key(deleted)}},
                # Fails: everything above must be undone.
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": _key(guard),
                        "ConditionExpression": "v = :no",
                        "ExpressionAttributeValues": {":no": {"S": "not-g0"}},
                    }
                },
            ]
        )
    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"

    async def item(pk: str) -> dict[str, object] | None:
        found = await dynamodb.get_item(TableName=table, Key=_key(pk), ConsistentRead=True)
        return found.get("Item")  # type: ignore[return-value]

    assert await item(created) is None
    assert await item(updated) == {**_key(updated), "v": {"S": "u0"}}
    assert await item(deleted) == {**_key(deleted), "v": {"S": "d0"}}
    assert await item(kept) == {**_key(kept), "v": {"S": "k0"}}

    # And a transaction that succeeds applies every action.
    await dynamodb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": table, "Item": {**_key(created), "v": {"S": "c1"}}}},
            {"Delete": {"TableName": table, "Key": _key(deleted)}},
        ]
    )
    assert await item(created) == {**_key(created), "v": {"S": "c1"}}
    assert await item(deleted) is None


async def test_queries_find_partitions_and_index_entries_as_items_change(
    dynamodb: DynamoDBClient, store_settings: Settings
) -> None:
    table = store_settings.table_name
    run = uuid4().hex
    partition, index_a, index_b = f"EMUQ#{run}", f"EMUA#{run}", f"EMUB#{run}"

    def item(n: int, index_pk: str) -> dict[str, dict[str, str]]:
        return {
            "PK": {"S": partition},
            "SK": {"S": f"N#{n:02d}"},
            "GSI1PK": {"S": index_pk},
            "GSI1SK": {"S": f"N#{n:02d}"},
        }

    async def base_sks(**extra: object) -> list[str]:
        found = await dynamodb.query(
            TableName=table,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": partition}},
            ConsistentRead=True,
            **extra,  # type: ignore[arg-type]
        )
        return [i["SK"]["S"] for i in found["Items"]]

    async def index_sks(index_pk: str) -> list[str]:
        found = await dynamodb.query(
            TableName=table,
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues={":pk": {"S": index_pk}},
        )
        return [i["SK"]["S"] for i in found["Items"]]

    # The index is queried before the writes below: they must keep its map current.
    assert await index_sks(index_a) == []
    for n in range(6):
        await dynamodb.put_item(TableName=table, Item=item(n, index_a))
    assert await base_sks() == [f"N#{n:02d}" for n in range(6)]
    assert await base_sks(ScanIndexForward=False, Limit=2) == ["N#05", "N#04"]
    assert await index_sks(index_a) == [f"N#{n:02d}" for n in range(6)]

    # Moved to another index partition by an update, removed by a delete, replaced by a put.
    await dynamodb.update_item(
        TableName=table,
        Key=_key_of(partition, "N#01"),
        UpdateExpression="SET GSI1PK = :b",
        ExpressionAttributeValues={":b": {"S": index_b}},
    )
    await dynamodb.delete_item(TableName=table, Key=_key_of(partition, "N#02"))
    await dynamodb.put_item(TableName=table, Item=item(3, index_b))
    assert await base_sks() == ["N#00", "N#01", "N#03", "N#04", "N#05"]
    assert await index_sks(index_a) == ["N#00", "N#04", "N#05"]
    assert await index_sks(index_b) == ["N#01", "N#03"]


def _key_of(pk: str, sk: str) -> dict[str, dict[str, str]]:
    return {"PK": {"S": pk}, "SK": {"S": sk}}
