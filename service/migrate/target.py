"""The table a migration command works on, opened with the migration's patience and checked
before any work starts.

A migration can wait for DynamoDB far longer than a request can: a throttled chunk is retried
for up to a minute before the load stops (and can then be resumed). But an endpoint that does
not answer at all, a table that does not exist or missing credentials are said at once, in one
line, by a DescribeTable bounded by `CHECK_TIMEOUT_S`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from botocore.exceptions import BotoCoreError, ClientError
from types_aiobotocore_dynamodb import DynamoDBClient

from service.config import Settings
from service.migrate.errors import TargetError
from service.migrate.load import LoadObserver
from service.store.client import dynamodb_client
from service.store.table import Table

LOAD_DEADLINE_S = 60.0
LOAD_RETRY_CAP_S = 2.0
LOAD_READ_TIMEOUT_S = 30.0
LOAD_MAX_ATTEMPTS = 30
CHECK_TIMEOUT_S = 10.0


def where(settings: Settings) -> str:
    return settings.dynamodb_endpoint or f"AWS {settings.aws_region}"


@contextlib.asynccontextmanager
async def open_table(settings: Settings) -> AsyncIterator[tuple[Table, LoadObserver]]:
    settings = settings.model_copy(
        update={
            "dynamodb_read_timeout_s": max(settings.dynamodb_read_timeout_s, LOAD_READ_TIMEOUT_S)
        }
    )
    observer = LoadObserver()
    async with contextlib.AsyncExitStack() as stack:
        try:
            client = await stack.enter_async_context(dynamodb_client(settings))
        except (BotoCoreError, ValueError) as exc:  # an endpoint URL botocore cannot use
            raise TargetError(f"DynamoDB at {where(settings)}: {exc}") from exc
        await check_table(client, settings)
        yield (
            Table(
                client,
                settings.table_name,
                observer=observer,
                retry_base_s=settings.dynamodb_retry_base_s,
                retry_cap_s=max(settings.dynamodb_retry_cap_s, LOAD_RETRY_CAP_S),
                deadline_s=max(settings.dynamodb_call_deadline_s, LOAD_DEADLINE_S),
                max_attempts=LOAD_MAX_ATTEMPTS,
            ),
            observer,
        )


async def check_table(client: DynamoDBClient, settings: Settings) -> None:
    """DynamoDB answers and has the table, or one line says which of the two is not so."""
    name, at = settings.table_name, where(settings)
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            await client.describe_table(TableName=name)
    except TimeoutError as exc:
        raise TargetError(f"DynamoDB at {at} did not answer within {CHECK_TIMEOUT_S:g} s") from exc
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "Unknown"), error.get("Message", "")
        if code == "ResourceNotFoundException":
            raise TargetError(
                f"DynamoDB at {at} has no table {name} (hustlehub create-table makes it)"
            ) from exc
        raise TargetError(
            f"DynamoDB at {at} refused DescribeTable {name}: {code} {message}"
        ) from exc
    except BotoCoreError as exc:  # no connection, no credentials, a timeout inside botocore
        raise TargetError(f"DynamoDB at {at}: {exc}") from exc
