"""The long-lived aiobotocore clients of a process: DynamoDB, and its stream API for the
stream consumer (service/streams)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from types_aiobotocore_dynamodb import DynamoDBClient
from types_aiobotocore_dynamodbstreams import DynamoDBStreamsClient

from service.config import Settings

# moto and DynamoDB Local accept any signature; these never reach AWS (see below).
_DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def _config(settings: Settings) -> AioConfig:
    return AioConfig(
        connect_timeout=settings.dynamodb_connect_timeout_s,
        read_timeout=settings.dynamodb_read_timeout_s,
        max_pool_connections=settings.dynamodb_max_pool_connections,
        # Table retries with its own backoff, deadline and metrics; botocore retrying underneath
        # would multiply attempts and hide throttles from the counters.
        retries={"total_max_attempts": 1, "mode": "standard"},
    )


def _credentials(settings: Settings) -> dict[str, Any]:
    if settings.dynamodb_endpoint is not None and settings.mode != "production":
        return dict(_DUMMY_CREDENTIALS)
    return {}


@asynccontextmanager
async def dynamodb_client(settings: Settings) -> AsyncIterator[DynamoDBClient]:
    async with get_session().create_client(
        "dynamodb",
        region_name=settings.aws_region,
        endpoint_url=settings.dynamodb_endpoint,
        config=_config(settings),
        **_credentials(settings),
    ) as client:
        yield client


@asynccontextmanager
async def dynamodb_streams_client(settings: Settings) -> AsyncIterator[DynamoDBStreamsClient]:
    """The stream API's client. Same endpoint: DynamoDB Local and moto serve both APIs on one
    port; on AWS botocore resolves streams.dynamodb.<region>.amazonaws.com itself. Retries are
    the consumer's (service/streams), counted."""
    async with get_session().create_client(
        "dynamodbstreams",
        region_name=settings.aws_region,
        endpoint_url=settings.dynamodb_endpoint,
        config=_config(settings),
        **_credentials(settings),
    ) as client:
        yield client
