"""Verify finds each kind of divergence and exits non-zero; rollback removes exactly one
batch, leaving another batch and the service's own items alone."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import asyncpg
import pytest

from service.config import Settings
from service.dev.seed.supabase import Scale
from service.migrate.export import PostgresSource
from service.migrate.load import load
from service.migrate.rollback import rollback
from service.migrate.verify import verify
from service.migrate.workdir import Manifest, WorkDir, read_items, write_items, write_json
from service.models.category import CategoryCreate
from service.store import keys
from service.store.batch import batch_get
from service.store.common import get_item
from service.store.stores import build_stores, cursor_codec
from service.store.table import Table
from tests.migrate.conftest import Legacy
from tests.migrate.support import cli, fill, mapping

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.subprocess]
SCALE = Scale(users=120, listings=15, categories=3, favourites=240, seed=21)


async def _loaded(pg: asyncpg.Connection, work: Path, table: Table, batch: str) -> Manifest:
    await fill(pg, SCALE)
    work.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240
    manifest = await write_items(PostgresSource(pg), await mapping(pg), WorkDir(work))
    await load(table, WorkDir(work), manifest, batch=batch, progress=False)
    return manifest


@pytest.mark.subprocess  # runs `hustlehub migrate` as a child process
async def test_verify_reports_a_changed_field_a_missing_and_an_extra_item(
    legacy: Legacy, pg: asyncpg.Connection, work: Path, table: Table, migrate_settings: Settings
) -> None:
    batch = f"verify-{uuid.uuid4().hex[:6]}"
    manifest = await _loaded(pg, work, table, batch)
    clean = await asyncio.to_thread(
        cli, migrate_settings, "verify", "--work", str(work), "--batch", batch, "--dsn", legacy.dsn
    )
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "OK" in clean.stdout

    items = list(read_items(WorkDir(work)))
    listing = next(i for i in items if i["type"]["S"] == "Listing")
    favourite = next(i for i in items if i["type"]["S"] == "Favourite")
    await table.call(
        "UpdateItem", Key={"PK": listing["PK"], "SK": listing["SK"]},
        UpdateExpression="SET title = :t", ExpressionAttributeValues={":t": {"S": "Changed"}},
    )  # fmt: skip
    await table.call("DeleteItem", Key={"PK": favourite["PK"], "SK": favourite["SK"]})
    stray = {"PK": {"S": "USER#stray"}, "SK": {"S": "METADATA#stray"}, "type": {"S": "User"},
             "migrationBatch": {"S": batch}}  # fmt: skip
    await table.call("PutItem", Item=stray)
    # The service's own writes (no tag, keys of their own) are none of verify's business.
    stores = build_stores(table, cursor_codec(migrate_settings))
    await stores.categories.create(
        CategoryCreate(slug=f"own-{uuid.uuid4().hex[:6]}", name="Own"), actor="test"
    )

    found = await asyncio.to_thread(
        cli, migrate_settings, "verify", "--work", str(work), "--batch", batch,
        "--dsn", legacy.dsn, "--report", str(work / "report.json"),
    )  # fmt: skip
    assert found.returncode == 1, found.stdout + found.stderr
    assert "MISMATCH" in found.stdout
    report = json.loads((work / "report.json").read_text())
    assert report["ok"] is False
    assert report["counts"] == {"changed": 1, "missing": 1, "extra": 1}
    assert [(f["pk"], f["fields"]) for f in report["changed"]] == [(listing["PK"]["S"], ["title"])]
    assert [f["sk"] for f in report["missing"]] == [favourite["SK"]["S"]]
    assert [f["pk"] for f in report["extra"]] == ["USER#stray"]
    assert report["expected"]["Favourite"] == report["found"]["Favourite"] + 1
    assert sum(report["matched"].values()) == manifest.items - 2
    assert "USER#stray" in found.stdout


async def test_verify_sees_the_legacy_side_change_too(
    pg: asyncpg.Connection, work: Path, table: Table
) -> None:
    batch = f"legacy-{uuid.uuid4().hex[:6]}"
    await _loaded(pg, work, table, batch)
    await pg.execute(
        "update public.profiles set display_name = 'Renamed' where id = "
        "(select id from public.profiles order by id limit 1)"
    )
    report = await verify(PostgresSource(pg), await mapping(pg), table, batch=batch, progress=False)
    assert not report.ok
    assert report.counts == {"changed": 1}
    assert report.changed[0].fields == ["displayName"]


@pytest.mark.subprocess  # runs `hustlehub migrate` as a child process
async def test_rollback_removes_one_batch_and_nothing_else(
    pg: asyncpg.Connection, work: Path, table: Table, migrate_settings: Settings
) -> None:
    await fill(pg, SCALE)
    work.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240
    full = WorkDir(work)
    await write_items(PostgresSource(pg), await mapping(pg), full)
    items = list(read_items(full))
    halves = {"a": items[::2], "b": items[1::2]}
    batches = {name: f"rb-{name}-{uuid.uuid4().hex[:6]}" for name in halves}
    for name, part in halves.items():
        part_dir = WorkDir(work / name)
        part_dir.root.mkdir()
        with part_dir.items.open("w") as out:
            out.writelines(json.dumps(item) + "\n" for item in part)
        manifest = Manifest(len(part), f"digest-{name}", {})
        write_json(
            part_dir.manifest, {"items": manifest.items, "digest": manifest.digest, "report": {}}
        )
        await load(table, part_dir, manifest, batch=batches[name], progress=False)
    stores = build_stores(table, cursor_codec(migrate_settings))
    own = await stores.categories.create(
        CategoryCreate(slug=f"own-{uuid.uuid4().hex[:6]}", name="Own"), actor="test"
    )

    deleted = await rollback(table, batch=batches["a"], progress=False)
    assert sum(deleted.values()) == len(halves["a"])

    def key(item: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        return {"PK": item["PK"], "SK": item["SK"]}

    assert await batch_get(table, [key(i) for i in halves["a"]], consistent=True) == []
    remaining = await batch_get(table, [key(i) for i in halves["b"]], consistent=True)
    assert len(remaining) == len(halves["b"])
    assert {i["migrationBatch"]["S"] for i in remaining} == {batches["b"]}
    assert await get_item(table, keys.category(own.id), consistent=True) is not None
    assert (await stores.categories.get_by_slug(own.slug)).id == own.id

    again = await asyncio.to_thread(cli, migrate_settings, "rollback", "--batch", batches["a"])
    assert again.returncode == 0, again.stderr
    assert "deleted=0" in again.stdout


async def test_verify_compares_the_table_with_the_source_rows_not_a_trimming_transform(
    pg: asyncpg.Connection, work: Path, table: Table
) -> None:
    """What a transform that trims would have loaded: the listing's title without the spaces
    its row has. Verify finds it against the rows as read, whatever its own transform does."""
    await fill(pg, SCALE)
    listing_id = await pg.fetchval(
        "update public.listings set title = '  ' || title || ' ' "
        "where id = (select id from public.listings order by id limit 1) returning id::text"
    )
    work.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240
    users = await mapping(pg)
    manifest = await write_items(PostgresSource(pg), users, WorkDir(work))
    assert not manifest.rejected
    batch = f"trim-{uuid.uuid4().hex[:6]}"
    await load(table, WorkDir(work), manifest, batch=batch, progress=False)
    clean = await verify(PostgresSource(pg), users, table, batch=batch, progress=False)
    assert clean.ok, clean.text()

    trimmed = 0
    for item in read_items(WorkDir(work)):
        if item["type"]["S"] in ("Listing", "CategoryListing") and item["id"]["S"] == listing_id:
            assert item["title"]["S"] != item["title"]["S"].strip()
            altered = {**item, "title": {"S": item["title"]["S"].strip()}}
            await table.call("PutItem", Item={**altered, "migrationBatch": {"S": batch}})
            trimmed += 1
    assert trimmed == 2
    report = await verify(PostgresSource(pg), users, table, batch=batch, progress=False)
    assert not report.ok
    assert report.counts == {"changed": 2}
    assert {(f.type, tuple(f.fields)) for f in report.changed} == {
        ("Listing", ("title",)),
        ("CategoryListing", ("title",)),
    }


async def test_a_rollback_dry_run_prints_what_it_would_delete_and_deletes_nothing(
    pg: asyncpg.Connection, work: Path, table: Table, migrate_settings: Settings
) -> None:
    batch = f"dry-{uuid.uuid4().hex[:6]}"
    manifest = await _loaded(pg, work, table, batch)
    items = list(read_items(WorkDir(work)))
    dry = await asyncio.to_thread(cli, migrate_settings, "rollback", "--batch", batch, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    *listed, summary = dry.stdout.splitlines()
    assert sorted(listed) == sorted(
        f"{i['type']['S']} {i['PK']['S']} {i['SK']['S']}" for i in items
    )
    assert f"would_delete={manifest.items}" in summary
    assert "nothing deleted" in summary
    keys_ = [{"PK": i["PK"], "SK": i["SK"]} for i in items]
    assert len(await batch_get(table, keys_, consistent=True)) == manifest.items

    done = await asyncio.to_thread(cli, migrate_settings, "rollback", "--batch", batch)
    assert f"deleted={manifest.items}" in done.stdout
    assert await batch_get(table, keys_, consistent=True) == []
