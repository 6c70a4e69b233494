"""Helpers for the migration tests: small legacy data sets, a mapping for them, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg

from service.config import Settings
from service.dev.seed.supabase import Scale, generate
from service.migrate.usermap import UserMap

CLI_TIMEOUT_S = 120
TRUNCATE = (
    "truncate public.favorites, public.listings, public.categories, public.profiles, "
    "auth.users cascade"
)


def sub_for(supabase_id: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, supabase_id))


async def fill(conn: asyncpg.Connection, scale: Scale) -> dict[str, int]:
    await conn.execute(TRUNCATE)
    return await generate(conn, scale)


async def mapping(conn: asyncpg.Connection, *, leave_out: int = 0) -> UserMap:
    ids = [r["id"] for r in await conn.fetch("select id::text as id from auth.users order by id")]
    return UserMap({i: sub_for(i) for i in ids[leave_out:]})


def cli_env(settings: Settings) -> dict[str, str]:
    assert settings.dynamodb_endpoint is not None
    return {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "HUSTLEHUB_MODE": "test",
        "HUSTLEHUB_DYNAMODB_ENDPOINT": settings.dynamodb_endpoint,
        "HUSTLEHUB_TABLE_NAME": settings.table_name,
    }


def cli(settings: Settings, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service", "migrate", *argv],
        env=cli_env(settings),
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )
