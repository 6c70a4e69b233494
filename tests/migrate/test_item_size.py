"""DynamoDB's 400 KB item limit: the size is counted the way DynamoDB counts it, a row whose
item would pass the limit is rejected at transform with the row named (never handed to the
load), and a chunk DynamoDB refuses stops the load with the item named, not a traceback."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from service.config import Settings
from service.dev.seed.supabase import Scale
from service.migrate import rows
from service.migrate.errors import TargetError
from service.migrate.export import PostgresSource
from service.migrate.load import LoadObserver, load
from service.migrate.transform import ITEM_BUDGET_BYTES, transform_all
from service.migrate.usermap import UserMap
from service.migrate.workdir import Manifest, WorkDir, write_items, write_json
from service.store.client import dynamodb_client
from service.store.codec import ITEM_LIMIT_BYTES, item_size
from service.store.table import Table
from tests.migrate.conftest import Legacy
from tests.migrate.support import cli, fill, mapping, refusal

pytestmark = [pytest.mark.subprocess]

SCALE = Scale(users=10, listings=5, categories=2, favourites=10, seed=81)
AT = datetime(2024, 1, 1, tzinfo=UTC)


def test_the_size_is_counted_as_dynamodb_counts_it() -> None:
    assert ITEM_LIMIT_BYTES == 409_600
    # Names and strings in UTF-8 bytes: "é" is 2, "😀" is 4.
    assert item_size({"name": {"S": "é😀"}}) == 4 + 6
    # Numbers: one byte per two significant digits, plus one; zeros at either end are free.
    assert item_size({"n": {"N": "12345"}}) == 1 + 4
    assert item_size({"n": {"N": "1200.00"}}) == 1 + 2
    assert item_size({"n": {"N": "-0.000123"}}) == 1 + 3
    # Booleans and nulls one byte; lists and maps 3 bytes, one a member, and the members.
    assert item_size({"b": {"BOOL": True}, "z": {"NULL": True}}) == 2 + 2
    assert item_size({"l": {"L": [{"S": "ab"}, {"N": "7"}]}}) == 1 + 3 + (2 + 1) + (2 + 1)
    assert item_size({"m": {"M": {"k": {"S": "v"}}}}) == 1 + 3 + (1 + 1 + 1)
    assert item_size({"s": {"SS": ["a", "bc"]}}) == 1 + 3


def _listing(url: str) -> rows.Listing:
    return rows.Listing(
        str(uuid.uuid4()), "big", "Big", "", "", CATEGORY.id, "", False, (), 1, 2, "USD",
        "month", url, None, AT, AT,
    )  # fmt: skip


CATEGORY = rows.Category(str(uuid.uuid4()), "c", "C", "", 0, AT, AT)


def _largest(url: str) -> tuple[int, int]:
    """(largest item's size, rejected rows) of one listing with this url."""
    items, report = transform_all(
        UserMap({}), auth_users=[], profiles=[], categories=[CATEGORY],
        listings=[_listing(url)], favorites=[],
    )  # fmt: skip
    return max(item_size(i) for i in items), sum(report.rejected_count.values())


def test_a_row_is_rejected_from_the_first_byte_past_the_budget() -> None:
    base = "https://example.test/"
    size, _ = _largest(base)
    fits = base + "a" * (ITEM_BUDGET_BYTES - size)
    assert _largest(fits) == (ITEM_BUDGET_BYTES, 0)
    items, report = transform_all(
        UserMap({}), auth_users=[], profiles=[], categories=[CATEGORY],
        listings=[_listing(fits + "a")], favorites=[],
    )  # fmt: skip
    assert report.rejected_count == {"public.listings": 1}
    (rejected,) = report.rejected
    assert f"would be {ITEM_BUDGET_BYTES + 1:,} bytes, past DynamoDB's 409,600-byte" in (
        rejected.reason
    )
    assert {i["type"]["S"] for i in items} == {"Category", "CategoryEntry", "SlugMapping"}


@pytest.mark.asyncio(loop_scope="session")
async def test_an_item_past_the_limit_is_rejected_at_transform_and_the_rest_loads(
    legacy: Legacy, pg: asyncpg.Connection, work: Path, tmp_path: Path,
    migrate_settings: Settings,
) -> None:  # fmt: skip
    await fill(pg, SCALE)
    big = await pg.fetchval(
        "update public.listings set url = 'https://example.test/' || repeat('x', 420000) "
        "where id = (select id from public.listings order by id limit 1) returning id::text"
    )
    users = await mapping(pg)
    users.write_csv(tmp_path / "subs.csv")
    argv = ["--work", str(work), "--user-map", str(tmp_path / "subs.csv")]
    done = await asyncio.to_thread(cli, migrate_settings, "transform", "--dsn", legacy.dsn, *argv)
    assert done.returncode == 0, done.stderr
    report = json.loads((work / "manifest.json").read_text())["report"]
    assert report["rejected_count"]["public.listings"] == 1
    reasons = {r["id"]: r["reason"] for r in report["rejected"]}
    assert "past DynamoDB's 409,600-byte item limit" in reasons[big]
    # Its favourites go with it, each named.
    favourites = await pg.fetchval(
        "select count(*) from public.favorites where listing_id = $1::uuid", big
    )
    assert report["rejected_count"].get("public.favorites", 0) == favourites
    assert big in done.stderr

    batch = f"big-{uuid.uuid4().hex[:6]}"
    load = ["load", "--work", str(work), "--batch", batch]
    assert "rows were rejected" in refusal(await asyncio.to_thread(cli, migrate_settings, *load))
    loaded = await asyncio.to_thread(cli, migrate_settings, *load, "--allow-rejected")
    assert loaded.returncode == 0, loaded.stderr
    checked = await asyncio.to_thread(
        cli, migrate_settings, "verify", "--work", str(work), "--batch", batch, "--dsn", legacy.dsn
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "public.listings 1" in checked.stdout


class _Refused:
    """An HTTP answer as botocore's before-call hook hands one back."""

    status_code = 400
    headers: dict[str, str] = {}  # noqa: RUF012


@pytest.mark.asyncio(loop_scope="session")
async def test_a_chunk_dynamodb_refuses_names_the_item_past_the_limit(
    pg: asyncpg.Connection, work: Path, migrate_settings: Settings
) -> None:
    # Items an older transform let through: one past the limit among ordinary ones.
    await fill(pg, SCALE)
    work.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240
    workdir = WorkDir(work)
    manifest = await write_items(PostgresSource(pg), await mapping(pg), workdir)
    lines = workdir.items.read_text(encoding="utf-8").splitlines()
    huge = {"PK": {"S": "LISTING#huge"}, "SK": {"S": "METADATA#huge"},
            "type": {"S": "Listing"}, "url": {"S": "x" * ITEM_LIMIT_BYTES}}  # fmt: skip
    lines.insert(30, json.dumps(huge))
    workdir.items.write_text("\n".join(lines) + "\n", encoding="utf-8")
    bigger = Manifest(manifest.items + 1, manifest.digest, manifest.report)
    write_json(workdir.manifest, {"items": bigger.items, "digest": bigger.digest, "report": {}})

    def refuse_big(params: dict[str, Any], **_: Any) -> Any:
        # DynamoDB refuses the whole call when one of its items is past the limit.
        if len(params["body"]) > ITEM_LIMIT_BYTES:
            error = {"Code": "ValidationException",
                     "Message": "Item size has exceeded the maximum allowed size"}  # fmt: skip
            return _Refused(), {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}
        return None

    async with dynamodb_client(migrate_settings) as client:
        client.meta.events.register("before-call.dynamodb.BatchWriteItem", refuse_big)
        table = Table(client, migrate_settings.table_name, observer=LoadObserver(),
                      retry_base_s=0.01, retry_cap_s=0.1, deadline_s=10.0)  # fmt: skip
        with pytest.raises(TargetError) as stopped:
            await load(table, workdir, bigger, batch="big", concurrency=1, progress=False)
    said = str(stopped.value)
    assert f"items 26-{min(50, bigger.items)} of items.jsonl" in said
    # Refused by the table's own size check before DynamoDB sees it, or by DynamoDB (the hook
    # stands in for it) should an item slip past that check: either way the load names it.
    assert "item limit" in said or "ValidationException" in said
    # The names and values of its four attributes and the batch tag ("big").
    assert f"LISTING#huge / METADATA#huge is {ITEM_LIMIT_BYTES + 60:,} bytes" in said
    assert json.loads(workdir.checkpoint.read_text())["done"] == 25
