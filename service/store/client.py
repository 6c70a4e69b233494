"""The one long-lived aiobotocore DynamoDB client of a process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from types_aiobotocore_dynamodb import DynamoDBClient

from service.config import Settings

# moto and DynamoDB Local accept any signature; these never reach AWS (see below).
_DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@asynccontextmanager
async def dynamodb_client(settings: Settings) -> AsyncIterator[DynamoDBClient]:
    config = AioConfig(
        connect_timeout=settings.dynamodb_connect_timeout_s,
        read_timeout=settings.dynamodb_read_timeout_s,
        max_pool_connections=settings.dynamodb_max_pool_connections,
        # Table retries with its own backoff, deadline and metrics; botocore retrying underneath
        # would multiply attempts and hide throttles from the counters.
        retries={"total_max_attempts": 1, "mode": "standard"},
    )
    credentials: dict[str, Any] = {}
    if settings.dynamodb_endpoint is not None and settings.mode != "production":
        credentials = dict(_DUMMY_CREDENTIALS)
    session = get_session()
    async with session.create_client(
        "dynamodb",
        region_name=settings.aws_region,
        endpoint_url=settings.dynamodb_endpoint,
        config=config,
        **credentials,
    ) as client:
        yield client
