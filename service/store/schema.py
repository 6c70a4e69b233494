"""The table definition, once: the dev server, the tests and the CloudFormation template derive
from `table_definition`, so none of them can drift from the others."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from botocore.exceptions import ClientError
from types_aiobotocore_dynamodb import DynamoDBClient

from service.store.keys import GSI1, GSI1PK, GSI1SK, PK, SK, TTL_ATTRIBUTE

log = logging.getLogger(__name__)

STREAM_VIEW = "NEW_AND_OLD_IMAGES"
_ACTIVE_WAIT_S = 60.0
_POLL_S = 0.2


def table_definition(name: str, *, deletion_protection: bool) -> dict[str, Any]:
    """CreateTable keyword arguments for the single table."""
    return {
        "TableName": name,
        "AttributeDefinitions": [
            {"AttributeName": attr, "AttributeType": "S"} for attr in (PK, SK, GSI1PK, GSI1SK)
        ],
        "KeySchema": [
            {"AttributeName": PK, "KeyType": "HASH"},
            {"AttributeName": SK, "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": GSI1,
                "KeySchema": [
                    {"AttributeName": GSI1PK, "KeyType": "HASH"},
                    {"AttributeName": GSI1SK, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        "BillingMode": "PAY_PER_REQUEST",
        "SSESpecification": {"Enabled": True},
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": STREAM_VIEW},
        "DeletionProtectionEnabled": deletion_protection,
    }


async def ensure_table(client: DynamoDBClient, name: str, *, production: bool) -> bool:
    """Create the table if it is absent and wait until ACTIVE. True when this call created it.

    Point-in-time recovery and TTL are separate control-plane calls; emulators that reject them
    are tolerated (logged), real DynamoDB accepts both.
    """
    created = False
    if not await _exists(client, name):
        try:
            await client.create_table(**table_definition(name, deletion_protection=production))
            created = True
        except ClientError as exc:
            # Another process created it between our check and our call: that is success.
            if exc.response.get("Error", {}).get("Code") != "ResourceInUseException":
                raise
    await _wait_active(client, name)
    if created:
        await _tolerated(
            client.update_continuous_backups(
                TableName=name,
                PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
            ),
            "point-in-time recovery",
        )
        await _tolerated(
            client.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
            ),
            "TTL",
        )
    return created


async def _exists(client: DynamoDBClient, name: str) -> bool:
    try:
        await client.describe_table(TableName=name)
    except client.exceptions.ResourceNotFoundException:
        return False
    return True


async def _wait_active(client: DynamoDBClient, name: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _ACTIVE_WAIT_S
    while True:
        description = (await client.describe_table(TableName=name))["Table"]
        indexes = description.get("GlobalSecondaryIndexes", [])
        if description.get("TableStatus") == "ACTIVE" and all(
            index.get("IndexStatus", "ACTIVE") == "ACTIVE" for index in indexes
        ):
            return
        if loop.time() > deadline:
            raise TimeoutError(f"table {name} not ACTIVE after {_ACTIVE_WAIT_S:.0f} s")
        await asyncio.sleep(_POLL_S)


async def _tolerated(call: Any, what: str) -> None:
    try:
        await call
    except ClientError as exc:
        log.warning("could not enable %s: %s", what, exc.response.get("Error", {}).get("Code"))


def table_resource(name: str) -> dict[str, Any]:
    """The AWS::DynamoDB::Table resource built from the same definition, for production."""
    definition = table_definition(name, deletion_protection=True)
    properties = {
        "TableName": definition["TableName"],
        "AttributeDefinitions": definition["AttributeDefinitions"],
        "KeySchema": definition["KeySchema"],
        "GlobalSecondaryIndexes": definition["GlobalSecondaryIndexes"],
        "BillingMode": definition["BillingMode"],
        # CloudFormation spells the encryption flag SSEEnabled, not Enabled.
        "SSESpecification": {"SSEEnabled": definition["SSESpecification"]["Enabled"]},
        "StreamSpecification": {
            "StreamViewType": definition["StreamSpecification"]["StreamViewType"]
        },
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "TimeToLiveSpecification": {"AttributeName": TTL_ATTRIBUTE, "Enabled": True},
        "DeletionProtectionEnabled": definition["DeletionProtectionEnabled"],
    }
    return {
        "Type": "AWS::DynamoDB::Table",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": properties,
    }


def index_names(name: str) -> list[str]:
    """The table's index names, for ARNs (`<table arn>/index/<name>`)."""
    definition = table_definition(name, deletion_protection=True)
    return [str(index["IndexName"]) for index in definition["GlobalSecondaryIndexes"]]


def cloudformation_template(name: str) -> dict[str, Any]:
    """A template holding the table alone (the CDK app in service/aws/infra has the stack)."""
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"Hustle Hub directory single table {name}",
        "Resources": {"DirectoryTable": table_resource(name)},
        "Outputs": {
            "TableName": {"Value": {"Ref": "DirectoryTable"}},
            "StreamArn": {"Value": {"Fn::GetAtt": ["DirectoryTable", "StreamArn"]}},
        },
    }
