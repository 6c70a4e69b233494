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
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

from service.migrate import rows
from service.migrate.rows import R, Row

PREFETCH = 5_000
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

    async def count(self, row_type: type[Row]) -> int:
        return int(await self._conn.fetchval(f"select count(*) from {row_type.table}"))  # noqa: S608 - fixed names

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[PostgresSource]:
        """One transaction for every read inside: all tables seen at one instant."""
        async with self._conn.transaction(isolation="repeatable_read", readonly=True):
            yield self

    async def read(self, row_type: type[R]) -> AsyncIterator[R]:
        if not self._conn.is_in_transaction():
            async with self.snapshot():
                async for row in self.read(row_type):
                    yield row
            return
        names = rows.columns(row_type)
        cursor = self._conn.cursor(_QUERIES[row_type.table], prefetch=self._prefetch)
        async for record in cursor:
            values = dict(zip(names, record, strict=True))
            if row_type is rows.Listing:
                values["skills"] = tuple(values["skills"])
                # A CSV export cannot tell '' from NULL, and an empty link is no link: both
                # readers make it None, so both sources give the same rows.
                values["url"] = values["url"] or None
                values["image_url"] = values["image_url"] or None
            yield row_type(**values)


class SnapshotSource:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def read(self, row_type: type[R]) -> AsyncIterator[R]:
        with snapshot_path(self.directory, row_type).open(encoding="utf-8") as lines:
            for line in lines:
                yield rows.from_json(row_type, json.loads(line))


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
