"""The load: chunks of at most 25, UnprocessedItems retried until written, every item tagged,
idempotent on re-run, resumable from its checkpoint, including after a SIGKILL."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from service.config import Settings
from service.dev.seed.supabase import Scale
from service.errors import StoreUnavailable
from service.migrate.checkpoint import read_checkpoint
from service.migrate.errors import TargetError
from service.migrate.export import PostgresSource
from service.migrate.load import LoadObserver, load
from service.migrate.verify import verify
from service.migrate.workdir import Manifest, WorkDir, write_items
from service.store.client import dynamodb_client
from service.store.keys import BATCH_ATTRIBUTE
from service.store.scan import scan_all
from service.store.table import Table
from tests.migrate.support import cli, cli_env, fill, mapping

pytestmark = pytest.mark.asyncio(loop_scope="session")
SCALE = Scale(users=150, listings=20, categories=4, favourites=300, seed=11)
KILL_SCALE = Scale(users=1500, listings=40, categories=5, favourites=4500, seed=12)


async def prepared(pg: asyncpg.Connection, work: Path, scale: Scale) -> tuple[WorkDir, Manifest]:
    await fill(pg, scale)
    workdir = WorkDir(work)
    work.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240
    manifest = await write_items(PostgresSource(pg), await mapping(pg), workdir)
    return workdir, manifest


def _table(client: Any, settings: Settings, **overrides: float) -> Table:
    return Table(
        client, settings.table_name, observer=LoadObserver(),
        retry_base_s=overrides.get("base", 0.01), retry_cap_s=overrides.get("cap", 0.2),
        deadline_s=overrides.get("deadline", 30.0), max_attempts=30,
    )  # fmt: skip


async def _tagged(table: Table, batch: str) -> int:
    count = 0
    async for page in scan_all(
        table, FilterExpression="migrationBatch = :b",
        ExpressionAttributeValues={":b": {"S": batch}}, ProjectionExpression="PK",
    ):  # fmt: skip
        count += len(page)
    return count


async def test_chunks_of_25_with_unprocessed_items_retried_until_written(
    pg: asyncpg.Connection, work: Path, migrate_settings: Settings, table: Table
) -> None:
    workdir, manifest = await prepared(pg, work, SCALE)
    sizes: list[int] = []
    faults = {"left": 6}
    handed_back: list[Any] = []

    def before(params: dict[str, Any], **_: Any) -> None:
        requests = params["RequestItems"][migrate_settings.table_name]
        sizes.append(len(requests))
        if faults["left"] > 0 and len(requests) > 1:
            # What DynamoDB does under pressure: take some, hand the rest back.
            faults["left"] -= 1
            keep = len(requests) // 3
            handed_back[:] = requests[keep:]
            params["RequestItems"] = {migrate_settings.table_name: requests[:keep]}

    def after(parsed: dict[str, Any], **_: Any) -> None:
        if handed_back:
            parsed["UnprocessedItems"] = {migrate_settings.table_name: list(handed_back)}
            handed_back.clear()

    batch = f"chunks-{uuid.uuid4().hex[:6]}"
    async with dynamodb_client(migrate_settings) as client:
        client.meta.events.register("before-parameter-build.dynamodb.BatchWriteItem", before)
        client.meta.events.register("after-call.dynamodb.BatchWriteItem", after)
        faulty = _table(client, migrate_settings)
        result = await load(faulty, workdir, manifest, batch=batch, concurrency=1, progress=False)
    assert result.written == manifest.items > 25 * 8
    assert max(sizes) == 25
    assert faults["left"] == 0
    observer = faulty.observer
    assert isinstance(observer, LoadObserver)
    assert observer.unprocessed_rounds == 6
    assert observer.unprocessed_items > 6
    report = await verify(PostgresSource(pg), await mapping(pg), table, batch=batch, progress=False)
    assert report.ok, report.text()
    assert sum(report.matched.values()) == manifest.items
    assert await _tagged(table, batch) == manifest.items


async def test_a_rerun_is_idempotent(pg: asyncpg.Connection, work: Path, table: Table) -> None:
    workdir, manifest = await prepared(pg, work, SCALE)
    batch = f"rerun-{uuid.uuid4().hex[:6]}"
    first = await load(table, workdir, manifest, batch=batch, progress=False)
    again = await load(table, workdir, manifest, batch=batch, progress=False)
    assert (first.written, again.written, again.skipped) == (manifest.items, 0, manifest.items)
    restarted = await load(table, workdir, manifest, batch=batch, resume=False, progress=False)
    assert restarted.written == manifest.items
    report = await verify(PostgresSource(pg), await mapping(pg), table, batch=batch, progress=False)
    assert report.ok, report.text()
    assert await _tagged(table, batch) == manifest.items


async def test_a_load_that_gives_up_resumes_from_its_checkpoint(
    pg: asyncpg.Connection, work: Path, migrate_settings: Settings, table: Table
) -> None:
    workdir, manifest = await prepared(pg, work, SCALE)
    calls = {"n": 0}

    def refuse_after_four(params: dict[str, Any], **_: Any) -> None:
        calls["n"] += 1
        if calls["n"] > 4:  # from the fifth call on, DynamoDB takes nothing
            handed.extend(params["RequestItems"][migrate_settings.table_name])
            params["RequestItems"] = {migrate_settings.table_name: handed[:1]}

    handed: list[Any] = []

    def hand_back(parsed: dict[str, Any], **_: Any) -> None:
        if handed:
            parsed["UnprocessedItems"] = {migrate_settings.table_name: handed[1:]}
            handed.clear()

    batch = f"resume-{uuid.uuid4().hex[:6]}"
    async with dynamodb_client(migrate_settings) as client:
        client.meta.events.register(
            "before-parameter-build.dynamodb.BatchWriteItem", refuse_after_four
        )
        client.meta.events.register("after-call.dynamodb.BatchWriteItem", hand_back)
        stuck = _table(client, migrate_settings, deadline=0.5, cap=0.05)
        with pytest.raises(TargetError, match=r"items 101-125 of items\.jsonl") as stopped:
            await load(stuck, workdir, manifest, batch=batch, concurrency=1, progress=False)
        assert isinstance(stopped.value.__cause__, StoreUnavailable)
    checkpoint = read_checkpoint(workdir.checkpoint)
    assert checkpoint is not None
    assert checkpoint.done == 100  # the four chunks of 25 DynamoDB took
    resumed = await load(table, workdir, manifest, batch=batch, progress=False)
    assert resumed.skipped == 100
    assert resumed.written == manifest.items - 100
    report = await verify(PostgresSource(pg), await mapping(pg), table, batch=batch, progress=False)
    assert report.ok, report.text()


@pytest.mark.subprocess  # runs `hustlehub migrate` as a child process
async def test_sigkill_mid_load_then_resume_verifies_clean(
    legacy: Any, pg: asyncpg.Connection, work: Path, migrate_settings: Settings
) -> None:
    workdir, manifest = await prepared(pg, work, KILL_SCALE)
    batch = f"kill-{uuid.uuid4().hex[:6]}"
    argv = ["load", "--work", str(work), "--batch", batch, "--concurrency", "1"]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "service", "migrate", *argv, env=cli_env(migrate_settings),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    killed_at = 0
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.returncode is None:
            found = read_checkpoint(workdir.checkpoint)
            if found is not None and found.done >= manifest.items // 4:
                proc.send_signal(signal.SIGKILL)
                killed_at = found.done
                break
            await asyncio.sleep(0.02)
    finally:
        await asyncio.wait_for(proc.wait(), 30)
    assert proc.returncode == -signal.SIGKILL
    assert 0 < killed_at < manifest.items
    resumed = await asyncio.to_thread(cli, migrate_settings, *argv)
    assert resumed.returncode == 0, resumed.stderr
    fields = dict(p.split("=", 1) for p in resumed.stdout.split() if "=" in p)
    assert int(fields["resumed_after"]) >= killed_at
    assert int(fields["written"]) + int(fields["resumed_after"]) == manifest.items
    checked = await asyncio.to_thread(
        cli, migrate_settings, "verify", "--work", str(work), "--batch", batch,
        "--dsn", legacy.dsn,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    report = json.loads(workdir.verify_report.read_text())
    assert report["ok"] is True
    assert sum(report["matched"].values()) == manifest.items
    assert BATCH_ATTRIBUTE == "migrationBatch"


@pytest.mark.subprocess  # runs `hustlehub migrate` as a child process
async def test_run_does_every_step_from_csv_exports(
    pg: asyncpg.Connection, work: Path, tmp_path: Path, migrate_settings: Settings
) -> None:
    await fill(pg, SCALE)
    users = await mapping(pg)
    csv_dir = tmp_path / "csv"
    csv_dir.mkdir()
    for table in ("users", "profiles", "categories", "listings", "favorites"):
        schema = "auth" if table == "users" else "public"
        await pg.copy_from_query(
            f"select * from {schema}.{table}",  # noqa: S608 - fixed names
            output=str(csv_dir / f"{table}.csv"), format="csv", header=True,
        )  # fmt: skip
    users.write_csv(tmp_path / "subs.csv")
    batch = f"run-{uuid.uuid4().hex[:6]}"
    done = await asyncio.to_thread(
        cli, migrate_settings, "run", "--csv-dir", str(csv_dir), "--work", str(work),
        "--batch", batch, "--user-map", str(tmp_path / "subs.csv"),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"verify batch {batch}: OK" in done.stdout
    assert "load [" in done.stderr
