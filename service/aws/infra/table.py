"""The single table, translated from `service.store.schema.table_definition` (the one
definition the dev server, the tests and `create-table` use too), so none of them can drift."""

from __future__ import annotations

from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from service.aws.infra.stage import Stage
from service.store.keys import TTL_ATTRIBUTE
from service.store.schema import table_definition


def _keys(schema: list[dict[str, str]]) -> list[dynamodb.CfnTable.KeySchemaProperty]:
    return [
        dynamodb.CfnTable.KeySchemaProperty(
            attribute_name=key["AttributeName"], key_type=key["KeyType"]
        )
        for key in schema
    ]


def _index(index: dict[str, Any]) -> dynamodb.CfnTable.GlobalSecondaryIndexProperty:
    return dynamodb.CfnTable.GlobalSecondaryIndexProperty(
        index_name=index["IndexName"],
        key_schema=_keys(index["KeySchema"]),
        projection=dynamodb.CfnTable.ProjectionProperty(
            projection_type=index["Projection"]["ProjectionType"]
        ),
    )


def directory_table(scope: Construct, stage: Stage) -> dynamodb.CfnTable:
    definition = table_definition(stage.table_name, deletion_protection=stage.production)
    table = dynamodb.CfnTable(
        scope,
        "DirectoryTable",
        table_name=definition["TableName"],
        attribute_definitions=[
            dynamodb.CfnTable.AttributeDefinitionProperty(
                attribute_name=attribute["AttributeName"],
                attribute_type=attribute["AttributeType"],
            )
            for attribute in definition["AttributeDefinitions"]
        ],
        key_schema=_keys(definition["KeySchema"]),
        global_secondary_indexes=[_index(i) for i in definition["GlobalSecondaryIndexes"]],
        billing_mode=definition["BillingMode"],
        # CloudFormation spells the encryption flag SSEEnabled, not Enabled.
        sse_specification=dynamodb.CfnTable.SSESpecificationProperty(
            sse_enabled=definition["SSESpecification"]["Enabled"]
        ),
        stream_specification=dynamodb.CfnTable.StreamSpecificationProperty(
            stream_view_type=definition["StreamSpecification"]["StreamViewType"]
        ),
        # Separate calls after CreateTable (`ensure_table`); properties of the resource here.
        point_in_time_recovery_specification=dynamodb.CfnTable.PointInTimeRecoverySpecificationProperty(
            point_in_time_recovery_enabled=True
        ),
        time_to_live_specification=dynamodb.CfnTable.TimeToLiveSpecificationProperty(
            attribute_name=TTL_ATTRIBUTE, enabled=True
        ),
        deletion_protection_enabled=definition["DeletionProtectionEnabled"],
    )
    # A dev table goes with its stack; production's outlives a deleted stack.
    table.apply_removal_policy(RemovalPolicy.RETAIN if stage.production else RemovalPolicy.DESTROY)
    return table
