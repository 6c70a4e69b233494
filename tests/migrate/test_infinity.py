"""A timestamptz of `infinity` or `-infinity` is no point in time: every source reads it as
such (never as 9999-12-31 or 0001-01-01), the snapshot keeps it, and the transform rejects
its row, named with the column, like every other rejected row."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import asyncpg
import pytest

from service.config import Settings
from service.dev.seed.supabase import Scale
from service.migrate import rows
from service.migrate.export import PostgresSource, collect
from service.migrate.supabase_csv import CsvSource, parse_timestamp
from tests.migrate.conftest import Legacy
from tests.migrate.support import cli, fill, mapping

pytestmark = [pytest.mark.subprocess]

SCALE = Scale(users=10, listings=5, categories=2, favourites=10, seed=91)


def test_the_csv_text_forms_of_the_infinities() -> None:
    assert parse_timestamp("infinity") is rows.Unbounded.FUTURE
    assert parse_timestamp(" -infinity ") is rows.Unbounded.PAST
    assert rows.moment("infinity") is rows.Unbounded.FUTURE
    with pytest.raises(ValueError, match="without a time zone"):
        rows.moment("2024-01-01T00:00:00")


@pytest.mark.asyncio(loop_scope="session")
async def test_infinite_timestamps_are_read_as_such_and_their_rows_rejected(
    legacy: Legacy, pg: asyncpg.Connection, work: Path, tmp_path: Path,
    migrate_settings: Settings,
) -> None:  # fmt: skip
    await fill(pg, SCALE)
    listing = await pg.fetchval(
        "update public.listings set created_at = 'infinity' "
        "where id = (select id from public.listings order by id limit 1) returning id::text"
    )
    profile = await pg.fetchval(
        "update public.profiles set updated_at = '-infinity' "
        "where id = (select id from public.profiles order by id limit 1) returning id::text"
    )
    from_pg = {r.id: r for r in await collect(PostgresSource(pg), rows.Listing)}
    assert from_pg[listing].created_at is rows.Unbounded.FUTURE
    profiles = {r.id: r for r in await collect(PostgresSource(pg), rows.Profile)}
    assert profiles[profile].updated_at is rows.Unbounded.PAST

    csv_dir = tmp_path / "csv"
    csv_dir.mkdir()
    for table in ("listings", "profiles"):
        await pg.copy_from_query(
            f"select * from public.{table}",  # noqa: S608 - fixed names
            output=str(csv_dir / f"{table}.csv"), format="csv", header=True,
        )  # fmt: skip
    from_csv = {r.id: r for r in await collect(CsvSource(csv_dir), rows.Listing)}
    assert from_csv == from_pg

    users = await mapping(pg)
    users.write_csv(tmp_path / "subs.csv")
    exported = await asyncio.to_thread(
        cli, migrate_settings, "export", "--dsn", legacy.dsn, "--work", str(work)
    )
    assert exported.returncode == 0, exported.stderr
    snapshot = (work / "export" / "public.listings.jsonl").read_text().splitlines()
    assert any(json.loads(line)["created_at"] == "infinity" for line in snapshot)

    done = await asyncio.to_thread(
        cli, migrate_settings, "transform", "--work", str(work),
        "--user-map", str(tmp_path / "subs.csv"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads((work / "manifest.json").read_text())["report"]
    reasons = {r["id"]: r["reason"] for r in report["rejected"]}
    assert reasons[listing] == "created_at: infinity is not a point in time"
    assert reasons[profile] == "updated_at: -infinity is not a point in time"
    assert report["rejected_count"]["public.listings"] == 1
    assert report["rejected_count"]["public.profiles"] == 1
    items = (work / "items.jsonl").read_text()
    assert "9999-12-31" not in items
    assert "0001-01-01" not in items
