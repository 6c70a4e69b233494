"""The app with stream invalidation on, each test on a table of its own (so its stream holds
only that test's changes), and a plain DynamoDB client standing in for a console user."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from types_aiobotocore_dynamodb import DynamoDBClient

from service.config import Settings
from service.store.client import dynamodb_client
from tests.support import infra
from tests.support.app import NewTable, make_settings
from tests.support.tokens import TokenMint

POLL_INTERVAL_S = 0.1


@pytest.fixture
async def stream_table(new_table: NewTable) -> str:
    return await new_table("hh-streams")


@pytest.fixture
@infra.needs(infra.REDIS)
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
