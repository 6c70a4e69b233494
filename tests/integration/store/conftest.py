"""Fixtures for the data access layer: one table per session on the moto server, fresh
repositories (with a recording observer) per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from types_aiobotocore_dynamodb import DynamoDBClient

from service.config import Settings
from service.store.client import dynamodb_client
from service.store.stores import Stores, build_stores, cursor_codec
from service.store.table import Table
from tests.integration.store.support import RecordingObserver
from tests.support.app import NewTable


@pytest.fixture(scope="session")
async def store_settings(moto_endpoint: str, new_table: NewTable) -> Settings:
    return Settings(
        mode="test",
        dynamodb_endpoint=moto_endpoint,
        table_name=await new_table("hh-test"),
        # moto serves one request at a time and slows down on a loaded machine; it also does
        # not honour ClientRequestToken, so an attempt timed out and retried would conflict
        # with its own first try. Generous bounds keep these tests about behaviour.
        dynamodb_read_timeout_s=10.0,
        dynamodb_call_deadline_s=20.0,
    )


@pytest.fixture(scope="session")
async def dynamodb(store_settings: Settings) -> AsyncIterator[DynamoDBClient]:
    async with dynamodb_client(store_settings) as client:
        yield client


@pytest.fixture
async def private_client(store_settings: Settings) -> AsyncIterator[DynamoDBClient]:
    """A client of the test's own, for event hooks that must not leak into other tests."""
    async with dynamodb_client(store_settings) as client:
        yield client


@pytest.fixture
def gated_stores(
    private_client: DynamoDBClient, store_settings: Settings, observer: RecordingObserver
) -> Stores:
    table = Table.from_settings(private_client, store_settings, observer=observer)
    return build_stores(table, cursor_codec(store_settings))


@pytest.fixture
def observer() -> RecordingObserver:
    return RecordingObserver()


@pytest.fixture
def table(dynamodb: DynamoDBClient, store_settings: Settings, observer: RecordingObserver) -> Table:
    return Table.from_settings(dynamodb, store_settings, observer=observer)


@pytest.fixture
def stores(table: Table, store_settings: Settings) -> Stores:
    return build_stores(table, cursor_codec(store_settings))
