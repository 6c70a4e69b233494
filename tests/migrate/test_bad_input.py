"""Input a migration command cannot use gets one line and exit 2, never a traceback: a wrong
or unreachable database, one without the Supabase schema, a missing table, a malformed user
map, a table or user pool that does not exist, an endpoint that does not answer (bounded and
said), a corrupt or foreign checkpoint, manifest or items file. The load refuses what cannot
be resumed. The commands run in production mode without the service's own settings."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from service.config import Settings
from service.dev.seed.supabase import Scale
from service.migrate.errors import WorkError
from service.migrate.export import CONNECT_TIMEOUT_S, PostgresSource
from service.migrate.load import load
from service.migrate.target import CHECK_TIMEOUT_S
from service.migrate.usermap import COGNITO_PAGE_DEADLINE_S
from service.migrate.workdir import Manifest, WorkDir, write_items, write_json
from service.store.table import Table
from tests.migrate.conftest import PG, Legacy
from tests.migrate.support import cli, fill, mapping, refusal

pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.subprocess,
    pytest.mark.postgres,
]
SMALL = Scale(users=20, listings=6, categories=2, favourites=30, seed=61)
PASSWORD = "pw-never-shown"  # in the DSNs: never in what is said


@contextlib.contextmanager
def silent_endpoint() -> Iterator[str]:
    """A port that takes connections (the kernel's backlog) and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


async def _prepared(pg: asyncpg.Connection, work: Path) -> tuple[WorkDir, Manifest]:
    await fill(pg, SMALL)
    work.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240
    workdir = WorkDir(work)
    return workdir, await write_items(PostgresSource(pg), await mapping(pg), workdir)


@pytest.mark.parametrize(
    ("dsn", "said"),
    [
        (f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/nothing", "127.0.0.1:1/nothing"),
        ("not a dsn", "invalid DSN"),
        (f"postgresql://postgres:{PASSWORD}@127.0.0.1:port/x", "the DSN given"),
        (f"{PG}/hh_no_such_database", 'database "hh_no_such_database" does not exist'),
    ],
)
async def test_a_database_that_cannot_be_opened_is_one_line(
    dsn: str, said: str, work: Path, migrate_settings: Settings
) -> None:
    done = await asyncio.to_thread(
        cli, migrate_settings, "export", "--dsn", dsn, "--work", str(work)
    )
    line = refusal(done)
    assert line.startswith("migrate export: cannot open the legacy database")
    assert said in line
    assert PASSWORD not in done.stdout + done.stderr


async def test_a_database_that_does_not_answer_is_bounded_and_said(
    work: Path, migrate_settings: Settings
) -> None:
    with silent_endpoint() as endpoint:
        dsn = endpoint.replace("http://", f"postgresql://postgres:{PASSWORD}@") + "/legacy"
        started = time.monotonic()
        done = await asyncio.to_thread(
            cli, migrate_settings, "export", "--dsn", dsn, "--work", str(work)
        )
        took = time.monotonic() - started
    line = refusal(done)
    assert line.endswith(f"{endpoint.removeprefix('http://')}/legacy did not answer within 10 s")
    assert took < CONNECT_TIMEOUT_S + 15
    assert PASSWORD not in done.stderr


async def test_a_database_without_the_schema_is_one_line(
    work: Path, migrate_settings: Settings
) -> None:
    name = f"hh_bare_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(f"{PG}/postgres")
    try:
        await admin.execute(f'create database "{name}"')
        done = await asyncio.to_thread(
            cli, migrate_settings, "export", "--dsn", f"{PG}/{name}", "--work", str(work)
        )
    finally:
        await admin.execute(f'drop database if exists "{name}" with (force)')
        await admin.close()
    assert "the legacy database has no auth.users" in refusal(done)


async def test_a_missing_csv_export_is_one_line(
    tmp_path: Path, work: Path, migrate_settings: Settings
) -> None:
    (tmp_path / "csv").mkdir()
    (tmp_path / "csv" / "users.csv").write_text("id,email,created_at\n")
    done = await asyncio.to_thread(
        cli, migrate_settings, "export", "--csv-dir", str(tmp_path / "csv"), "--work", str(work)
    )
    assert "no CSV export for public.profiles" in refusal(done)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("id,cognito\na,sub-a\n", "the header must be supabase_id,sub"),
        ("supabase_id,sub\na\nb\n", "line 2: 1 fields, not 2"),
        ("supabase_id,sub\n,sub-a\n", "line 2: no Supabase id"),
        ("supabase_id,sub\na,sub-a,extra\n", "line 2: 3 fields, not 2"),
        ("supabase_id,sub\na,has space\n", "not a usable sub"),
    ],
)
async def test_a_malformed_user_map_is_one_line(
    text: str, said: str, legacy: Legacy, pg: asyncpg.Connection, tmp_path: Path,
    work: Path, migrate_settings: Settings,
) -> None:  # fmt: skip
    await fill(pg, SMALL)
    (tmp_path / "map.csv").write_text(text)
    argv = ["--dsn", legacy.dsn, "--work", str(work), "--user-map", str(tmp_path / "map.csv")]
    transform = await asyncio.to_thread(cli, migrate_settings, "transform", *argv)
    assert said in refusal(transform)
    # verify reads the same file the same way
    verify = await asyncio.to_thread(cli, migrate_settings, "verify", *argv, "--batch", "b")
    assert said in refusal(verify)


async def test_a_table_that_does_not_exist_is_one_line(migrate_settings: Settings) -> None:
    done = await asyncio.to_thread(
        cli, migrate_settings, "rollback", "--batch", "b", env={"HUSTLEHUB_TABLE_NAME": "hh-none"}
    )
    assert "has no table hh-none" in refusal(done)


async def test_a_dynamodb_endpoint_that_does_not_answer_is_bounded_and_said(
    migrate_settings: Settings,
) -> None:
    with silent_endpoint() as endpoint:
        started = time.monotonic()
        done = await asyncio.to_thread(
            cli, migrate_settings, "rollback", "--batch", "b",
            env={"HUSTLEHUB_DYNAMODB_ENDPOINT": endpoint},
        )  # fmt: skip
        took = time.monotonic() - started
    assert f"DynamoDB at {endpoint} did not answer within 10 s" in refusal(done)
    assert took < CHECK_TIMEOUT_S + 15


async def test_a_user_pool_that_does_not_exist_is_one_line(
    legacy: Legacy, pg: asyncpg.Connection, work: Path, moto_endpoint: str,
    migrate_settings: Settings,
) -> None:  # fmt: skip
    await fill(pg, SMALL)
    done = await asyncio.to_thread(
        cli, migrate_settings, "transform", "--dsn", legacy.dsn, "--work", str(work),
        "--cognito-pool-id", "us-east-1_nosuchpool", "--cognito-endpoint", moto_endpoint,
    )  # fmt: skip
    assert "has no user pool us-east-1_nosuchpool" in refusal(done)


async def test_a_cognito_endpoint_that_does_not_answer_is_bounded_and_said(
    legacy: Legacy, pg: asyncpg.Connection, work: Path, migrate_settings: Settings
) -> None:
    await fill(pg, SMALL)
    with silent_endpoint() as endpoint:
        started = time.monotonic()
        done = await asyncio.to_thread(
            cli, migrate_settings, "transform", "--dsn", legacy.dsn, "--work", str(work),
            "--cognito-pool-id", "us-east-1_whatever", "--cognito-endpoint", endpoint,
        )  # fmt: skip
        took = time.monotonic() - started
    assert f"Cognito at {endpoint} did not answer ListUsers" in refusal(done)
    assert took < COGNITO_PAGE_DEADLINE_S + 15


async def test_corrupt_or_foreign_working_files_are_one_line(
    pg: asyncpg.Connection, work: Path, migrate_settings: Settings
) -> None:
    workdir, manifest = await _prepared(pg, work)
    load = ["load", "--work", str(work), "--batch", f"bad-{uuid.uuid4().hex[:6]}"]
    good_manifest = workdir.manifest.read_text()
    lines = workdir.items.read_text(encoding="utf-8").splitlines(keepends=True)

    def said() -> str:
        return refusal(cli(migrate_settings, *load))

    workdir.manifest.write_text("{not json")
    assert "manifest.json is unreadable" in await asyncio.to_thread(said)
    workdir.manifest.write_text(json.dumps({"items": 3}))
    assert "is not a transform's manifest" in await asyncio.to_thread(said)
    workdir.manifest.write_text(good_manifest)

    edited = [lines[0].replace('"S":"', '"S":"x', 1), *lines[1:]]
    workdir.items.write_text("".join(edited), encoding="utf-8")
    assert "its digest differs" in await asyncio.to_thread(said)
    workdir.items.write_text("".join(lines), encoding="utf-8")

    workdir.checkpoint.write_text("[]")
    assert "is not a load's checkpoint" in await asyncio.to_thread(said)
    workdir.checkpoint.write_text("{")
    assert "checkpoint.json is unreadable" in await asyncio.to_thread(said)
    assert manifest.items == len(lines)


async def test_load_refuses_what_cannot_be_resumed(
    pg: asyncpg.Connection, work: Path, migrate_settings: Settings
) -> None:
    workdir, manifest = await _prepared(pg, work)
    batch = f"resume-{uuid.uuid4().hex[:6]}"
    argv = ["load", "--work", str(work), "--batch", batch]
    # A checkpoint of this batch and these items that says more is done than there is.
    past = {"batch": batch, "digest": manifest.digest, "done": manifest.items + 25,
            "total": manifest.items + 25}  # fmt: skip
    write_json(workdir.checkpoint, past)
    line = refusal(await asyncio.to_thread(cli, migrate_settings, *argv))
    assert "cannot be resumed from" in line
    assert f"holds {manifest.items:,}" in line
    workdir.checkpoint.unlink()

    lines = workdir.items.read_text(encoding="utf-8").splitlines(keepends=True)
    workdir.items.write_text("".join(lines[:-30]), encoding="utf-8")
    line = refusal(await asyncio.to_thread(cli, migrate_settings, *argv))
    assert f"holds {manifest.items - 30:,} items, manifest.json says {manifest.items:,}" in line


async def test_a_load_of_a_short_items_file_ends_refused(
    pg: asyncpg.Connection, work: Path, table: Table
) -> None:
    workdir, manifest = await _prepared(pg, work)
    lines = workdir.items.read_text(encoding="utf-8").splitlines(keepends=True)
    workdir.items.write_text("".join(lines[:-3]), encoding="utf-8")
    with pytest.raises(WorkError, match=f"ended after {manifest.items - 3:,} items"):
        await load(table, workdir, manifest, batch="short", progress=False)


async def test_the_commands_run_in_production_without_the_service_settings(
    migrate_settings: Settings,
) -> None:
    env = {"HUSTLEHUB_MODE": "production", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing"}  # fmt: skip
    done = await asyncio.to_thread(cli, migrate_settings, "rollback", "--batch", "b", env=env)
    assert done.returncode == 0, done.stderr
    assert "deleted=0" in done.stdout
