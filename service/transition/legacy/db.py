"""The legacy Postgres: one asyncpg pool per process, the service's schema additions, and
asyncpg's errors translated into the service's hierarchy once, here."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from importlib.resources import files
from typing import Any

import asyncpg

from service.config import MigrationSettings
from service.errors import StoreError, StoreUnavailable

# Any process may start first; the lock makes concurrent start-ups apply the DDL one at a time.
_SCHEMA_LOCK = 0x6868_6D69_6772  # "hhmigr"
# Names the version of dualwrite.sql a database holds: change it whenever that file's DDL
# changes (a change to its comments alone need not re-apply it to every database).
SCHEMA_MARK = "hustlehub dualwrite.sql 3: users, favourites, audit events"
_MARK = "select obj_description(to_regclass('public.hustlehub_outbox'), 'pg_class')"
_DDL_LOCK_TIMEOUT_MS = 1000
_DDL_TRIES = 5
_DDL_RETRY_S = 0.2
# asyncpg's Pool and Connection both answer fetch/fetchrow/fetchval/execute: read helpers
# take either, so they run inside a caller's transaction or on their own.
Db = Any


@contextlib.asynccontextmanager
async def legacy_pool(settings: MigrationSettings) -> AsyncIterator[asyncpg.Pool]:
    if settings.legacy_dsn is None:
        raise ValueError("HUSTLEHUB_MIGRATION__LEGACY_DSN is not set")
    with translated("connect"):
        pool = await asyncpg.create_pool(
            settings.legacy_dsn.get_secret_value(),
            min_size=1,
            max_size=settings.legacy_pool_max_size,
            command_timeout=settings.legacy_command_timeout_s,
            # Connecting too (asyncpg's default is 60 s): the pool reconnects on demand.
            timeout=settings.legacy_command_timeout_s,
        )
    try:
        yield pool
    finally:
        await pool.close()


def schema_sql() -> str:
    return files("service.transition.legacy").joinpath("dualwrite.sql").read_text(encoding="utf-8")


async def ensure_schema(pool: asyncpg.Pool) -> None:
    """Apply dualwrite.sql (idempotent) to a database that already holds legacy.sql, unless
    the database is marked as holding this version of it already.

    Why the mark: ALTER TABLE and CREATE INDEX take table locks even when there is nothing to
    do, and a running instance holds locks those wait for (a reconcile round holds its outbox
    rows while a mirror transaction reads the catalogue) while that mirror waits behind the
    DDL: a wait Postgres cannot see as a deadlock, ended only by the command timeout, which
    failed the start-up. With the mark, a start-up against a current schema takes no lock;
    applying it bounds each lock wait and tries again.
    """
    with translated("schema"):
        if await pool.fetchval(_MARK) == SCHEMA_MARK:
            return
        for attempt in range(_DDL_TRIES):
            try:
                await _apply_schema(pool)
            except asyncpg.LockNotAvailableError:
                if attempt == _DDL_TRIES - 1:
                    raise
                await asyncio.sleep(_DDL_RETRY_S * 2**attempt)
            else:
                return


async def _apply_schema(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("select pg_advisory_xact_lock($1)", _SCHEMA_LOCK)
        if await conn.fetchval(_MARK) == SCHEMA_MARK:
            return  # another process applied it while this one waited
        await conn.execute(f"set local lock_timeout = {_DDL_LOCK_TIMEOUT_MS}")
        await conn.execute(schema_sql())
        await conn.execute(f"comment on table public.hustlehub_outbox is '{SCHEMA_MARK}'")


@contextlib.contextmanager
def translated(operation: str) -> Iterator[None]:
    """Postgres unreachable or timing out -> StoreUnavailable; any other failure -> StoreError.

    Constraint violations a repository expects (a taken slug) are caught by the repository
    inside this, before they get here.
    """
    try:
        yield
    except (OSError, TimeoutError, asyncpg.InterfaceError, asyncpg.CannotConnectNowError) as exc:
        raise StoreUnavailable(
            f"Postgres {operation} failed: {type(exc).__name__}", code="PostgresUnavailable"
        ) from exc
    except asyncpg.PostgresConnectionError as exc:
        raise StoreUnavailable(
            f"Postgres {operation} failed: {type(exc).__name__}", code="PostgresUnavailable"
        ) from exc
    except asyncpg.PostgresError as exc:
        code = getattr(exc, "sqlstate", None) or "Unknown"
        raise StoreError(f"Postgres {operation} failed: {exc}", code=f"Postgres{code}") from exc
