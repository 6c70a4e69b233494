"""Fixtures for the migration: a fresh legacy database per test module on the machine's
PostgreSQL (dropped afterwards), a table of the module's own on the suite's moto server, and
a Table over it the way `hustlehub migrate` builds one."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from service.config import Settings
from service.dev.seed.supabase import legacy_schema
from service.migrate.load import LoadObserver
from service.store.client import dynamodb_client
from service.store.table import Table
from tests.support import infra
from tests.support.app import NewTable

PG = "postgresql://postgres@127.0.0.1:5432"


@dataclass(frozen=True, slots=True)
class Legacy:
    dsn: str
    name: str


@pytest.fixture(scope="module")
@infra.needs(infra.POSTGRES)
async def legacy() -> AsyncIterator[Legacy]:
    name = f"hh_migrate_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(f"{PG}/postgres")
    try:
        await admin.execute(f'create database "{name}"')
        conn = await asyncpg.connect(f"{PG}/{name}")
        try:
            await conn.execute(legacy_schema())
        finally:
            await conn.close()
        yield Legacy(f"{PG}/{name}", name)
    finally:
        await admin.execute(f'drop database if exists "{name}" with (force)')
        await admin.close()


@pytest.fixture
async def pg(legacy: Legacy) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(legacy.dsn)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture(scope="module")
async def migrate_settings(moto_endpoint: str, new_table: NewTable) -> Settings:
    return Settings(
        mode="test",
        dynamodb_endpoint=moto_endpoint,
        table_name=await new_table("hh-migrate"),
        dynamodb_read_timeout_s=30.0,
        dynamodb_call_deadline_s=60.0,
    )


@pytest.fixture
async def table(migrate_settings: Settings) -> AsyncIterator[Table]:
    async with dynamodb_client(migrate_settings) as client:
        yield Table.from_settings(client, migrate_settings, observer=LoadObserver())


@pytest.fixture
def work(tmp_path: Path) -> Path:
    return tmp_path / "work"
