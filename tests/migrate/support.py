"""Helpers for the migration tests: small legacy data sets, a mapping for them, the CLI."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import asyncpg
from aiobotocore.session import get_session

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


def cli(
    settings: Settings, *argv: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`hustlehub migrate ARGV` as an operator runs it; `env` adds to (or overrides) the
    variables that point it at the test's table."""
    return subprocess.run(
        [sys.executable, "-m", "service", "migrate", *argv],
        env={**cli_env(settings), **(env or {})},
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )


def refusal(done: subprocess.CompletedProcess[str]) -> str:
    """The one line a refused command said (exit 2, no traceback)."""
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    said = [line for line in done.stderr.splitlines() if line.startswith("migrate ")]
    assert len(said) == 1, done.stderr
    return said[0]


async def pool_with_users(endpoint: str, emails: list[str]) -> tuple[str, dict[str, str]]:
    """A fresh pool on moto holding `emails`; returns its id and email -> sub."""
    async with get_session().create_client(
        "cognito-idp", region_name="us-east-1", endpoint_url=endpoint,
        aws_access_key_id="testing", aws_secret_access_key="testing",
    ) as idp:  # fmt: skip
        idp_any: Any = idp
        pool = await idp_any.create_user_pool(PoolName=f"migrate-{secrets.token_hex(4)}")
        pool_id: str = pool["UserPool"]["Id"]
        subs: dict[str, str] = {}
        for email in emails:
            created = await idp_any.admin_create_user(
                UserPoolId=pool_id, Username=f"u-{uuid.uuid4().hex[:10]}",
                MessageAction="SUPPRESS", UserAttributes=[{"Name": "email", "Value": email}],
            )  # fmt: skip
            attributes = {a["Name"]: a["Value"] for a in created["User"]["Attributes"]}
            subs[email.lower()] = attributes["sub"]
    return pool_id, subs
