"""The single table, translated from `service.store.schema.table_definition` (the one
definition the dev server, the tests and `create-table` use too), so none of them can drift.

One region: an `AWS::DynamoDB::Table`. With replica regions (`regions.py`): an
`AWS::DynamoDB::GlobalTable` in the primary's stack with a replica in every region, the same
name everywhere; the other regions' stacks refer to their own replica by that name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import CfnTag, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from service.aws.infra.regions import Placement
from service.aws.infra.stage import Stage
from service.aws.infra.tagging import FEATURE_TAG, PROJECT_TAG, STAGE_TAG
from service.store.keys import TTL_ATTRIBUTE
from service.store.schema import table_definition


@dataclass(frozen=True, slots=True)
class DirectoryTable:
    """What the rest of the stack needs of the table in its own region."""

    name: str
    arn: str
    # What the stream grants are scoped to; the consumer finds its stream itself
    # (DescribeTable's LatestStreamArn, in its own region).
    stream_arn: str
    # The resource, in the stack that holds it; None in a replica region's stack.
    resource: dynamodb.CfnTable | dynamodb.CfnGlobalTable | None = None


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


def _removal(stage: Stage) -> RemovalPolicy:
    # A dev table goes with its stack; production's outlives a deleted stack.
    return RemovalPolicy.RETAIN if stage.production else RemovalPolicy.DESTROY


def directory_table(scope: Construct, stage: Stage, where: Placement) -> DirectoryTable:
    if where.replicas:
        return _global_table(scope, stage, where)
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
    table.apply_removal_policy(_removal(stage))
    return DirectoryTable(
        name=table.ref, arn=table.attr_arn, stream_arn=table.attr_stream_arn, resource=table
    )


def _global_keys(schema: list[dict[str, str]]) -> list[dynamodb.CfnGlobalTable.KeySchemaProperty]:
    return [
        dynamodb.CfnGlobalTable.KeySchemaProperty(
            attribute_name=key["AttributeName"], key_type=key["KeyType"]
        )
        for key in schema
    ]


def _global_index(index: dict[str, Any]) -> dynamodb.CfnGlobalTable.GlobalSecondaryIndexProperty:
    return dynamodb.CfnGlobalTable.GlobalSecondaryIndexProperty(
        index_name=index["IndexName"],
        key_schema=_global_keys(index["KeySchema"]),
        projection=dynamodb.CfnGlobalTable.ProjectionProperty(
            projection_type=index["Projection"]["ProjectionType"]
        ),
    )


def _global_table(scope: Construct, stage: Stage, where: Placement) -> DirectoryTable:
    definition = table_definition(stage.table_name, deletion_protection=stage.production)
    # A global table's tags are its replicas' (Tags.of does not reach them): the stage's and
    # the feature's, as on every other resource.
    tags = [
        CfnTag(key=PROJECT_TAG, value="hustlehub"),
        CfnTag(key=STAGE_TAG, value=stage.name),
        CfnTag(key=FEATURE_TAG, value="table"),
    ]
    table = dynamodb.CfnGlobalTable(
        scope,
        "DirectoryGlobalTable",
        table_name=definition["TableName"],
        attribute_definitions=[
            dynamodb.CfnGlobalTable.AttributeDefinitionProperty(
                attribute_name=attribute["AttributeName"],
                attribute_type=attribute["AttributeType"],
            )
            for attribute in definition["AttributeDefinitions"]
        ],
        key_schema=_global_keys(definition["KeySchema"]),
        global_secondary_indexes=[_global_index(i) for i in definition["GlobalSecondaryIndexes"]],
        billing_mode=definition["BillingMode"],
        sse_specification=dynamodb.CfnGlobalTable.SSESpecificationProperty(
            sse_enabled=definition["SSESpecification"]["Enabled"]
        ),
        # Replication itself needs NEW_AND_OLD_IMAGES, which the consumer reads too.
        stream_specification=dynamodb.CfnGlobalTable.StreamSpecificationProperty(
            stream_view_type=definition["StreamSpecification"]["StreamViewType"]
        ),
        time_to_live_specification=dynamodb.CfnGlobalTable.TimeToLiveSpecificationProperty(
            attribute_name=TTL_ATTRIBUTE, enabled=True
        ),
        # Recovery and deletion protection are each replica's, set alike in every region.
        replicas=[
            dynamodb.CfnGlobalTable.ReplicaSpecificationProperty(
                region=region,
                point_in_time_recovery_specification=dynamodb.CfnGlobalTable.PointInTimeRecoverySpecificationProperty(
                    point_in_time_recovery_enabled=True
                ),
                deletion_protection_enabled=definition["DeletionProtectionEnabled"],
                tags=tags,
            )
            for region in where.regions
        ],
    )
    table.apply_removal_policy(_removal(stage))
    # Attributes of the replica in the stack's region, the primary.
    return DirectoryTable(
        name=table.ref, arn=table.attr_arn, stream_arn=table.attr_stream_arn, resource=table
    )


def replica_table(scope: Construct, stage: Stage) -> DirectoryTable:
    """The global table's replica in a replica region's stack: the same name, this region's
    ARNs. Its stream's label is known only once the replica exists, so the stream grant covers
    the table's streams (`table/<name>/stream/*`) rather than one label: CloudFormation cannot
    read another region's attribute, and a custom resource to look it up would add a Lambda
    for a value the consumer reads at its start anyway."""
    stack = Stack.of(scope)
    arn = stack.format_arn(service="dynamodb", resource="table", resource_name=stage.table_name)
    return DirectoryTable(name=stage.table_name, arn=arn, stream_arn=f"{arn}/stream/*")
