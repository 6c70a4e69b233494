"""The app with stream invalidation on, each test on a table of its own (so its stream holds
only that test's changes), and a plain DynamoDB client standing in for a console user."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from types_aiobotocore_dynamodb import DynamoDBClient

from service.config import Settings
from service.store.client import dynamodb_client
from service.store.schema import ensure_table
from tests.support.app import make_settings
from tests.support.tokens import TokenMint

POLL_INTERVAL_S = 0.1


@pytest.fixture
async def stream_table(moto_endpoint: str) -> str:
    name = f"hh-streams-{uuid.uuid4().hex[:8]}"
    settings = Settings(mode="test", dynamodb_endpoint=moto_endpoint, table_name=name)
    async with dynamodb_client(settings) as client:
        await ensure_table(client, name, production=False)
    return name


@pytest.fixture
def settings(moto_endpoint: str, stream_table: str, mint: TokenMint) -> Settings:
    # Overrides the suite's `settings`, so `client` and `admin_token` run this app.
    return make_settings(
        moto_endpoint,
        stream_table,
        mint,
        stream_invalidation=True,
        stream_poll_interval_s=POLL_INTERVAL_S,
        # Room for a loaded machine between the API's commit and its note in the ledger.
        stream_handled_grace_s=1.0,
    )


@pytest.fixture
async def console(settings: Settings) -> AsyncIterator[DynamoDBClient]:
    async with dynamodb_client(settings) as client:
        yield client
