"""The generator fills an empty legacy schema, only where it is told to and never the
database migrated from; export reads it from Postgres (server-side cursor) and from
Supabase's CSV exports, and both give the same rows."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from service.config import Settings
from service.dev.seed.supabase import Scale
from service.migrate import rows
from service.migrate.export import PostgresSource, SnapshotSource, collect, write_snapshot
from service.migrate.supabase_csv import CsvSource
from tests.migrate.conftest import Legacy
from tests.migrate.support import TRUNCATE, cli, fill, refusal

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.subprocess]
SMALL = Scale(users=300, listings=40, categories=6, favourites=900, seed=3)


@pytest.mark.subprocess  # runs `hustlehub migrate` as a child process
async def test_generate_through_the_cli_fills_every_table_with_a_progress_bar(
    legacy: Legacy, pg: asyncpg.Connection, migrate_settings: Settings
) -> None:
    await pg.execute(TRUNCATE)
    argv = ["generate", "--dsn", legacy.dsn, "--users", "2000", "--listings", "60"]
    argv += ["--categories", "15", "--favourites", "5000", "--seed", "7"]
    done = await asyncio.to_thread(cli, migrate_settings, *argv)
    assert done.returncode == 0, done.stderr
    assert "generate [" in done.stderr
    assert "/s" in done.stderr
    counts = {
        table: await pg.fetchval(f"select count(*) from {table}")  # noqa: S608
        for table in ("auth.users", "public.profiles", "public.categories", "public.listings")
    }
    assert counts == {
        "auth.users": 2000, "public.profiles": 2000, "public.categories": 15,
        "public.listings": 60,
    }  # fmt: skip
    pairs = await pg.fetchval("select count(distinct (user_id, listing_id)) from public.favorites")
    assert pairs == await pg.fetchval("select count(*) from public.favorites") == 5000
    assert await pg.fetchval("select count(*) from public.profiles where is_admin") >= 1
    assert await pg.fetchval("select min(cardinality(skills)) from public.listings") >= 1
    # Uneven categories, as a directory's are: the biggest holds more than the mean.
    biggest = await pg.fetchval(
        "select max(n) from (select count(*) n from public.listings group by category_id) c"
    )
    assert biggest > 60 / 15


async def test_the_same_seed_gives_the_same_rows(pg: asyncpg.Connection) -> None:
    await fill(pg, SMALL)
    first = await pg.fetch("select id, email from auth.users order by id")
    await fill(pg, SMALL)
    assert await pg.fetch("select id, email from auth.users order by id") == first


async def _csv_exports(pg: asyncpg.Connection, directory: Path) -> None:
    """What Supabase hands over: one CSV per table with a header, Postgres' text forms."""
    directory.mkdir()  # noqa: ASYNC240
    names = {
        "auth.users": "users.csv", "public.profiles": "profiles_rows.csv",
        "public.categories": "categories.csv", "public.listings": "listings.csv",
        "public.favorites": "favorites_rows.csv",
    }  # fmt: skip
    for table, name in names.items():
        # Columns in another order than the schema's: the reader goes by the header.
        query = f"select * from {table}"  # noqa: S608
        if table == "public.listings":
            query = "select skills, url, image_url, l.* from public.listings l"
        await pg.copy_from_query(query, output=str(directory / name), format="csv", header=True)


async def test_postgres_and_csv_exports_give_the_same_rows(
    pg: asyncpg.Connection, tmp_path: Path
) -> None:
    await fill(pg, SMALL)
    # Values that exercise CSV and array quoting, NULLs, and a non-UTC offset.
    category = await pg.fetchval("select id from public.categories limit 1")
    await pg.execute(
        "insert into public.listings (slug, title, category_id, skills, income_min, income_max,"
        " url, image_url, created_at, summary) values ('quoting-1', 'Quotes \"and\", commas',"
        " $1, $2, 1, 2, null, '', '2024-03-01 10:00:00.000001+05:30', E'two\\nlines')",
        category,
        ["copy, editing", 'say "hi"', "back\\slash", "{braces}", "NULL", "ünïcode"],
    )
    await _csv_exports(pg, tmp_path / "csv")
    from_pg, from_csv = PostgresSource(pg, prefetch=50), CsvSource(tmp_path / "csv")
    async with from_pg.snapshot():
        for row_type in rows.ROW_TYPES:
            kind: Any = row_type
            expected = sorted(await collect(from_pg, kind), key=repr)
            got = sorted(await collect(from_csv, kind), key=repr)
            assert got == expected, row_type.table
            assert len(expected) > 0
    quoted = next(r for r in await collect(from_csv, rows.Listing) if r.slug == "quoting-1")
    assert quoted.skills[:3] == ("copy, editing", 'say "hi"', "back\\slash")
    assert quoted.url is None
    assert quoted.image_url is None  # empty in a CSV export is NULL for the nullable links


@pytest.mark.subprocess  # runs `hustlehub migrate` as a child process
async def test_the_export_cli_writes_the_same_snapshot_from_both_sources(
    legacy: Legacy, pg: asyncpg.Connection, migrate_settings: Settings, tmp_path: Path
) -> None:
    await fill(pg, SMALL)
    await _csv_exports(pg, tmp_path / "csv")
    for name, option in (
        ("pg", ["--dsn", legacy.dsn]),
        ("csv", ["--csv-dir", str(tmp_path / "csv")]),
    ):
        done = await asyncio.to_thread(
            cli, migrate_settings, "export", *option, "--work", str(tmp_path / name)
        )
        assert done.returncode == 0, done.stderr
    for row_type in rows.ROW_TYPES:
        a = (tmp_path / "pg" / "export" / f"{row_type.table}.jsonl").read_text().splitlines()
        b = (tmp_path / "csv" / "export" / f"{row_type.table}.jsonl").read_text().splitlines()
        assert sorted(a) == sorted(b)
        assert len(a) == await pg.fetchval(f"select count(*) from {row_type.table}")  # noqa: S608
    # The snapshot reads back as the rows it was written from.
    listings = await collect(SnapshotSource(tmp_path / "pg" / "export"), rows.Listing)
    assert sorted(listings, key=repr) == sorted(
        await collect(PostgresSource(pg), rows.Listing), key=repr
    )


async def test_a_snapshot_round_trips_through_write_snapshot(
    pg: asyncpg.Connection, tmp_path: Path
) -> None:
    await fill(pg, SMALL)
    counts = await write_snapshot(PostgresSource(pg), tmp_path / "snap")
    assert counts["public.favorites"] == 900
    first = json.loads((tmp_path / "snap" / "public.profiles.jsonl").read_text().splitlines()[0])
    assert set(first) == set(rows.columns(rows.Profile))


async def _counts(pg: asyncpg.Connection) -> dict[str, int]:
    return {
        table: await pg.fetchval(f"select count(*) from {table}")  # noqa: S608
        for table in ("auth.users", "public.profiles", "public.categories", "public.listings")
    }


async def test_generate_needs_an_explicit_target_never_the_migrated_database(
    legacy: Legacy, pg: asyncpg.Connection, migrate_settings: Settings
) -> None:
    await pg.execute(TRUNCATE)
    small = ["--users", "20", "--listings", "5", "--categories", "2", "--favourites", "20"]
    # The variable the runbook points at the real Supabase is never a target by itself ...
    implicit = await asyncio.to_thread(
        cli, migrate_settings, "generate", *small, env={"HUSTLEHUB_MIGRATE_DSN": legacy.dsn}
    )
    assert implicit.returncode == 2
    assert "--dsn" in implicit.stderr
    # ... nor when --dsn names the same database, with another user or password.
    same = legacy.dsn.replace("postgres@", "postgres:another-password@")
    named = await asyncio.to_thread(
        cli, migrate_settings, "generate", "--dsn", legacy.dsn, *small,
        env={"HUSTLEHUB_MIGRATE_DSN": same},
    )  # fmt: skip
    assert "the database HUSTLEHUB_MIGRATE_DSN names" in refusal(named)
    assert "another-password" not in named.stderr
    assert set((await _counts(pg)).values()) == {0}


async def test_generate_refuses_tables_that_are_not_empty(
    legacy: Legacy, pg: asyncpg.Connection, migrate_settings: Settings
) -> None:
    await fill(pg, Scale(users=5, listings=2, categories=1, favourites=4, seed=5))
    before = await _counts(pg)
    done = await asyncio.to_thread(
        cli, migrate_settings, "generate", "--dsn", legacy.dsn, "--users", "20", "--listings",
        "5", "--categories", "2", "--favourites", "20",
    )  # fmt: skip
    line = refusal(done)
    assert "already holds rows in auth.users, public.profiles, public.categories" in line
    assert await _counts(pg) == before
