"""Fixtures for the migration phases: a fresh Postgres database per test module holding the
legacy Supabase schema (the machine's Postgres, 127.0.0.1:5432, trust auth), a fresh DynamoDB
table per module on the suite's moto server, and the real app in a chosen phase."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib.resources import files
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from service.app import create_app
from service.config import MigrationPhase, Settings
from service.runtime.appkeys import STORES
from tests.support import infra
from tests.support.app import AiohttpClient, NewTable, make_settings
from tests.support.tokens import TokenMint

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
Client = TestClient[Any, Any]
StartApp = Callable[..., Awaitable[Client]]


@pytest.fixture(scope="module")
@infra.needs(infra.POSTGRES)
async def legacy_dsn() -> AsyncIterator[str]:
    name = f"hh_phases_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(f'create database "{name}"')
    finally:
        await admin.close()
    dsn = f"postgresql://postgres@127.0.0.1:5432/{name}"
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(files("service.migrate").joinpath("legacy.sql").read_text())
    finally:
        await conn.close()
    yield dsn
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(f'drop database if exists "{name}" with (force)')
    finally:
        await admin.close()


@pytest.fixture
async def pg(legacy_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection of the test's own, for seeding and inspecting the legacy database."""
    conn = await asyncpg.connect(legacy_dsn)
    yield conn
    await conn.close()


@pytest.fixture(scope="module")
async def phase_table(new_table: NewTable) -> str:
    # A table of this module's own: the dual-read comparison of the category list needs
    # DynamoDB and Postgres to hold the same catalogue.
    return await new_table("hh-phases")


@pytest.fixture
@infra.needs(infra.REDIS)  # the apps they configure cache in the machine's Redis
def phase_settings(
    moto_endpoint: str, phase_table: str, mint: TokenMint, legacy_dsn: str
) -> Callable[..., Settings]:
    def build(
        phase: MigrationPhase, *, migration: dict[str, Any] | None = None, **overrides: Any
    ) -> Settings:
        block: dict[str, Any] = {
            "phase": phase,
            "legacy_dsn": legacy_dsn,
            # Tests drive reconciliation themselves unless they say otherwise.
            "reconcile_interval_s": 3600.0,
            "retry_base_s": 0.001,
            "retry_cap_s": 0.002,
            "max_attempts": 3,
            **(migration or {}),
        }
        values: dict[str, Any] = {
            "migration": block,
            # A faulted DynamoDB call should fail fast, not retry for 20 s.
            "dynamodb_retry_cap_s": 0.01,
            **overrides,
        }
        return make_settings(moto_endpoint, phase_table, mint, **values)

    return build


@pytest.fixture
def start_app(aiohttp_client: AiohttpClient) -> StartApp:
    async def start(settings: Settings) -> Client:
        return await aiohttp_client(create_app(settings))

    return start


async def admin_token_for(client: Client, mint: TokenMint) -> str:
    sub = f"admin-{uuid.uuid4()}"
    # In the legacy phases the grant goes to Postgres first, as every grant does.
    await client.app[STORES].users.grant_admin(sub, actor="test-setup")
    return mint.token(sub)
