"""Read the legacy rows: from Postgres with a server-side cursor, or from a snapshot on disk.

The Postgres reader runs every table in one REPEATABLE READ, read-only transaction, so the
rows of all five tables are one consistent picture even while the old backend keeps writing;
a cursor (asyncpg `Connection.cursor`, which needs the transaction) streams them in pages of
`prefetch` rows, so a million users never sit in memory at once.

The snapshot (`export` writes it) is one JSON-lines file per table; reading it back gives the
same rows, which is what the tests compare the two sources and Supabase's CSV exports by.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast
from urllib.parse import urlsplit

from service.migrate import rows
from service.migrate.errors import SourceError, WorkError
from service.migrate.rows import R, Row

PREFETCH = 5_000
CONNECT_TIMEOUT_S = 10.0
T = TypeVar("T")

_QUERIES: dict[str, str] = {
    rows.AuthUser.table: "select id::text, email, created_at from auth.users order by id",
    rows.Profile.table: (
        "select id::text, email, display_name, is_admin, created_at, updated_at "
        "from public.profiles order by id"
    ),
    rows.Category.table: (
        "select id::text, slug, name, description, sort_order, created_at, updated_at "
        "from public.categories order by id"
    ),
    rows.Listing.table: (
        "select id::text, slug, title, summary, description, category_id::text, location, "
        "remote, skills, income_min, income_max, income_currency::text, income_period, url, "
        "image_url, created_at, updated_at from public.listings order by id"
    ),
    rows.Favorite.table: (
        "select user_id::text, listing_id::text, created_at from public.favorites "
        "order by user_id, listing_id"
    ),
}


class Source(Protocol):
    """Where legacy rows come from; each table is read in a stable order."""

    def read(self, row_type: type[R]) -> AsyncIterator[R]: ...


class PostgresSource:
    def __init__(self, conn: Any, *, prefetch: int = PREFETCH) -> None:
        self._conn = conn
        self._prefetch = prefetch

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[PostgresSource]:
        """One transaction for every read inside: all tables seen at one instant."""
        async with self._conn.transaction(isolation="repeatable_read", readonly=True):
            yield self

    async def read(self, row_type: type[R]) -> AsyncIterator[R]:
        import asyncpg

        if not self._conn.is_in_transaction():
            async with self.snapshot():
                async for row in self.read(row_type):
                    yield row
            return
        names = rows.columns(row_type)
        cursor = self._conn.cursor(_QUERIES[row_type.table], prefetch=self._prefetch)
        try:
            async for record in cursor:
                yield row_type(**_values(row_type, names, record))
        except asyncpg.UndefinedTableError as exc:
            raise SourceError(
                f"the legacy database has no {row_type.table} ({exc}): is it the Supabase "
                "database, with the schema of service/migrate/legacy.sql?"
            ) from exc
        except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise SourceError(f"reading {row_type.table}: {exc}") from exc
        except OverflowError as exc:  # asyncpg's decoding: a timestamp past the year 9999
            raise SourceError(
                f"reading {row_type.table}: a value Python cannot hold: {exc}"
            ) from exc


def _values(row_type: type[Row], names: tuple[str, ...], record: Any) -> dict[str, Any]:
    values = dict(zip(names, record, strict=True))
    for name in names:
        if name.endswith("_at"):
            values[name] = _moment(values[name])
    if row_type is rows.Listing:
        values["skills"] = tuple(values["skills"])
        # A CSV export cannot tell '' from NULL, and an empty link is no link: both
        # readers make it None, so both sources give the same rows.
        values["url"] = values["url"] or None
        values["image_url"] = values["image_url"] or None
    return values


def _moment(value: datetime) -> rows.Moment:
    # asyncpg gives every finite timestamptz in UTC and the infinities as naive datetime.max
    # and datetime.min, so naive is unambiguous here.
    if value.tzinfo is None:
        return rows.Unbounded.FUTURE if value == datetime.max else rows.Unbounded.PAST
    return value


async def connect(dsn: str, *, timeout_s: float = CONNECT_TIMEOUT_S) -> Any:
    """An asyncpg connection to the legacy database, or one line saying why not (which names
    the database without its password)."""
    import asyncpg

    where = describe_dsn(dsn)
    try:
        return await asyncpg.connect(dsn, timeout=timeout_s)
    except TimeoutError as exc:
        raise SourceError(
            f"the legacy database {where} did not answer within {timeout_s:g} s"
        ) from exc
    except (OSError, ValueError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        # ValueError: a DSN asyncpg cannot parse (a port that is not a number, say).
        raise SourceError(f"cannot open the legacy database {where}: {exc}") from exc


def _location(dsn: str) -> str | None:
    try:
        parts = urlsplit(dsn)
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not parts.scheme.startswith("postgres") or not host:
        return None
    return f"{host}:{port or 5432}{parts.path or '/'}"


def describe_dsn(dsn: str) -> str:
    """host:port/database of a DSN, never its password."""
    return _location(dsn) or "(the DSN given)"


def same_database(one: str, other: str) -> bool:
    """Whether two DSNs name one database, whatever user or password each gives."""
    where = _location(one)
    return one == other or (where is not None and where == _location(other))


class SnapshotSource:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def read(self, row_type: type[R]) -> AsyncIterator[R]:
        path = snapshot_path(self.directory, row_type)
        if not path.exists():
            raise WorkError(f"{path} is missing: run export again")
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                yield _snapshot_row(row_type, path, number, line)


def _snapshot_row(row_type: type[R], path: Path, number: int, line: str) -> R:
    try:
        return rows.from_json(row_type, json.loads(line))
    except (ValueError, KeyError, TypeError) as exc:
        raise WorkError(f"{path} line {number} is not a {row_type.table} row ({exc!r})") from exc


def snapshot_path(directory: Path, row_type: type[Row]) -> Path:
    return directory / f"{row_type.table}.jsonl"


async def write_snapshot(
    source: Source, directory: Path, *, on_row: Callable[[], None] | None = None
) -> dict[str, int]:
    """Every table of `source` into `directory`; returns rows per table."""
    directory.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - a CLI step, nothing waits
    counts: dict[str, int] = {}
    for row_type in rows.ROW_TYPES:
        count = 0
        path = snapshot_path(directory, row_type)
        partial = path.with_suffix(".partial")
        table: AsyncIterator[Row] = source.read(cast(Any, row_type))
        with partial.open("w", encoding="utf-8") as out:
            async for row in table:
                out.write(json.dumps(rows.to_json(row), ensure_ascii=False) + "\n")
                count += 1
                if on_row is not None:
                    on_row()
        partial.replace(path)  # a killed export never leaves a truncated table behind
        counts[row_type.table] = count
    return counts


async def collect(source: Source, row_type: type[R]) -> list[R]:
    return [row async for row in source.read(row_type)]
