"""Least-privilege IAM for the service and for the post-confirmation Lambda: the DynamoDB
actions each may call, which the stack grants (`service/aws/infra`).

The action lists are written out rather than computed, on purpose: `tests/infra` derives the
DynamoDB operations the code calls (an AST scan of what the app imports) and requires the
synthesised policies to grant exactly them, so a new call fails a test until someone decides
to grant it here.
"""

from __future__ import annotations

# What the running service calls: `Table.call` operations, with TransactWriteItems granted
# through the actions of the items it carries (IAM has no action of its own for it:
# Put/Update/Delete are authorised as PutItem/UpdateItem/DeleteItem, ConditionCheck as
# ConditionCheckItem). BatchWriteItem removes a deleted listing's favourites; DescribeTable is
# the readiness probe.
SERVICE_ACTIONS: tuple[str, ...] = (
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteItem",
    "dynamodb:DescribeTable",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
)

# The stream consumer (`service.streams`, on where HUSTLEHUB_STREAM_INVALIDATION is set): it
# lists the stream's shards and reads them. Granted on the table's stream ARN only.
STREAM_ACTIONS: tuple[str, ...] = (
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
)

# `service.aws.registration.create_profile`: a conditional PutItem; on a repeated event it reads the
# profile back (BatchGetItem), after a creation it checks the admin grant (GetItem).
REGISTRATION_ACTIONS: tuple[str, ...] = (
    "dynamodb:BatchGetItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
)
