"""`hustlehub schema upgrade` (service.store.upgrade): older items rewritten in place, in
parallel segments, resumably, within a capacity budget, never over a newer write."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from types_aiobotocore_dynamodb import DynamoDBClient

from service.cli import main
from service.config import Settings
from service.models.audit import AuditEvent
from service.models.category import Category
from service.models.listing import Listing
from service.store import keys, versions
from service.store.codec import load
from service.store.copies import listing_copy_key
from service.store.keys import TTL_ATTRIBUTE
from service.store.observer import NullStoreObserver
from service.store.rules import DEFAULT_RULES
from service.store.schema import ensure_table
from service.store.table import ConditionFailed, Table
from service.store.upgrade import Budget, Checkpoint, Options, Upgrade, upgrade_request
from tests.integration.store.oldrelease import old_entity_item, old_update

pytestmark = pytest.mark.asyncio(loop_scope="session")

LONG = "Help a community garden plan its spring planting and keep the beds weeded. " * 30
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class Killed(Exception):
    pass


@pytest.fixture
async def own_table(
    dynamodb: DynamoDBClient, store_settings: Settings
) -> AsyncIterator[tuple[Table, Settings]]:
    """A table of the test's own: an upgrade scans all of it."""
    settings = store_settings.model_copy(update={"table_name": f"hh-upgrade-{uuid4().hex[:8]}"})
    await ensure_table(dynamodb, settings.table_name, production=False)
    yield Table.from_settings(dynamodb, settings, observer=NullStoreObserver()), settings
    await dynamodb.delete_table(TableName=settings.table_name)


def category(n: int) -> Category:
    return Category(
        id=f"cat{n:04d}",
        slug=f"cat-{n}",
        name=f"Category {n}",
        description=LONG[:2000] if n % 2 else "short",
        version=1,
        created_at=NOW,
        updated_at=NOW,
    )


def listing(n: int) -> Listing:
    return Listing(
        id=f"lst{n:04d}",
        slug=f"lst-{n}",
        title=f"Listing {n}",
        description=LONG,
        category_id="cat0001",
        category_slug="cat-1",
        category_name="Category 1",
        income_potential={"min": 1, "max": 2},
        version=1,
        created_at=NOW,
        updated_at=NOW,
    )


async def seed_old_release(dynamodb: DynamoDBClient, name: str, *, listings: int) -> int:
    """Items as the release before versions wrote them; how many."""
    items = [old_entity_item(category(1), "Category", keys.category("cat0001"))]
    for n in range(listings):
        entity = listing(n)
        items.append(
            {
                **old_entity_item(entity, "Listing", keys.listing(entity.id), categoryVersion=1),
                "badge": {"S": "kept"},  # a newer release's attribute: left as it is
            }
        )
        items.append(
            old_entity_item(entity, "CategoryListing", listing_copy_key(entity), categoryVersion=1)
        )
    event = AuditEvent(
        id="01JAUDIT", at=NOW, actor="a", action="create", entity_type="Listing", entity_id="x"
    )
    items.append(old_entity_item(event, "AuditEvent", keys.audit(NOW, event.id)))
    for item in items:
        await dynamodb.put_item(TableName=name, Item=item)
    return len(items)


async def everything(dynamodb: DynamoDBClient, name: str) -> list[dict[str, Any]]:
    found = await dynamodb.scan(TableName=name, ConsistentRead=True)
    return [dict(item) for item in found["Items"]]


def checkpoint(tmp_path: Path, name: str, *, segments: int, dry_run: bool = False) -> Checkpoint:
    return Checkpoint(tmp_path / "cp.json", table=name, segments=segments, dry_run=dry_run)


async def test_a_dry_run_counts_and_an_upgrade_rewrites_every_older_item_once(
    own_table: tuple[Table, Settings], dynamodb: DynamoDBClient, tmp_path: Path
) -> None:
    table, _ = own_table
    total = await seed_old_release(dynamodb, table.name, listings=6)
    before = await everything(dynamodb, table.name)

    dry = Upgrade(
        table,
        DEFAULT_RULES,
        Options(segments=3, dry_run=True, page_size=4),
        checkpoint(tmp_path / "dry", table.name, segments=3, dry_run=True),
    )
    counts = await dry.run()
    assert (counts.scanned, counts.by_version[1], counts.upgraded) == (total, total, 0)
    assert counts.to_upgrade == {"Category": 1, "Listing": 6, "CategoryListing": 6, "AuditEvent": 1}
    assert await everything(dynamodb, table.name) == before  # nothing written

    upgrade = Upgrade(
        table,
        DEFAULT_RULES,
        Options(segments=3, page_size=4),
        checkpoint(tmp_path, table.name, segments=3),
    )
    counts = await upgrade.run()
    assert (counts.scanned, counts.upgraded, counts.changed_meanwhile) == (total, total, 0)
    after = await everything(dynamodb, table.name)
    assert {versions.version_of(item) for item in after} == {versions.CURRENT}
    for item in after:
        kind = keys.kind_of(item["PK"]["S"], item["SK"]["S"])
        if kind in ("Listing", "CategoryListing"):
            assert set(item["description"]) == {"B"}
            assert load(Listing, item).description == LONG
        if kind == "Listing":
            assert item["badge"] == {"S": "kept"}
        if kind == "AuditEvent":
            assert DEFAULT_RULES.audit_retention is not None
            expected = int((NOW + DEFAULT_RULES.audit_retention).timestamp())
            assert item[TTL_ATTRIBUTE] == {"N": str(expected)}

    again = Upgrade(
        table,
        DEFAULT_RULES,
        Options(segments=2),
        checkpoint(tmp_path / "2", table.name, segments=2),
    )
    assert (await again.run()).to_upgrade == {}


async def test_a_killed_run_resumes_from_its_checkpoint(
    own_table: tuple[Table, Settings], dynamodb: DynamoDBClient, tmp_path: Path
) -> None:
    table, _ = own_table
    total = await seed_old_release(dynamodb, table.name, listings=10)
    pages = 0

    def killed_after_two_pages(_n: int) -> None:
        nonlocal pages
        pages += 1
        if pages == 2:
            raise Killed  # the process dies here, after the checkpoint was written

    first = Upgrade(
        table,
        DEFAULT_RULES,
        Options(segments=1, page_size=3),
        checkpoint(tmp_path, table.name, segments=1),
        on_items=killed_after_two_pages,
    )
    with pytest.raises(Killed):
        await first.run()
    resumed_from = checkpoint(tmp_path, table.name, segments=1)
    assert resumed_from.load()
    assert resumed_from.counts.scanned == 6
    second = Upgrade(table, DEFAULT_RULES, Options(segments=1, page_size=3), resumed_from)
    counts = await second.run()
    # Every item scanned once over both runs, none twice.
    assert (counts.scanned, counts.upgraded) == (total, total)
    assert {versions.version_of(i) for i in await everything(dynamodb, table.name)} == {2}


async def test_an_item_written_since_it_was_read_is_left_to_its_writer(
    own_table: tuple[Table, Settings], dynamodb: DynamoDBClient
) -> None:
    table, _ = own_table
    await seed_old_release(dynamodb, table.name, listings=2)
    first, second = keys.listing("lst0000"), keys.listing("lst0001")
    read = [
        (await dynamodb.get_item(TableName=table.name, Key=key, ConsistentRead=True))["Item"]
        for key in (first, second)
    ]
    requests = [upgrade_request(dict(item), DEFAULT_RULES) for item in read]
    # Meanwhile the old release rewrites one description and the new release the other item.
    await dynamodb.update_item(
        TableName=table.name, **old_update(first, {"description": "Rewritten by hand"})
    )
    await dynamodb.update_item(
        TableName=table.name,
        Key=second,
        UpdateExpression="SET schemaVersion = :v, title = :t",
        ExpressionAttributeValues={":v": {"N": "2"}, ":t": {"S": "Newer"}},
    )
    for request in requests:
        assert request is not None
        with pytest.raises(ConditionFailed):
            await table.call("UpdateItem", **request)
    found = await dynamodb.get_item(TableName=table.name, Key=first, ConsistentRead=True)
    assert found["Item"]["description"] == {"S": "Rewritten by hand"}


async def test_the_upgrade_stays_within_its_capacity_budget(
    own_table: tuple[Table, Settings], dynamodb: DynamoDBClient, tmp_path: Path
) -> None:
    table, _ = own_table
    await seed_old_release(dynamodb, table.name, listings=12)
    clock = [0.0]

    async def sleep(seconds: float) -> None:
        clock[0] += seconds  # virtual time: the test measures no time

    reads = Budget(4.0, clock=lambda: clock[0], sleep=sleep)
    writes = Budget(5.0, clock=lambda: clock[0], sleep=sleep)
    upgrade = Upgrade(
        table,
        DEFAULT_RULES,
        Options(segments=2, page_size=5),
        checkpoint(tmp_path, table.name, segments=2),
        reads=reads,
        writes=writes,
    )
    counts = await upgrade.run()
    assert counts.upgraded == 26
    # Each listing and copy (~2.3 KB plain, ~1.1 KB as the larger of before and after) costs
    # more than one unit: the budget charged what the sizes imply, not one per call.
    assert writes.spent >= counts.upgraded * 1.5
    for budget in (reads, writes):
        assert budget.spent <= budget.burst + budget.per_s * clock[0]


async def test_a_budget_never_lets_spending_outrun_its_rate() -> None:
    clock = [0.0]

    async def sleep(seconds: float) -> None:
        clock[0] += seconds

    budget = Budget(10.0, burst=5.0, clock=lambda: clock[0], sleep=sleep)
    for units in (3, 3, 3, 8, 1, 1, 12, 2):
        await budget.spend(units)
        assert budget.spent <= budget.burst + budget.per_s * clock[0] + 1e-9
    assert clock[0] == pytest.approx((33 - 5) / 10)


async def test_the_command_counts_on_a_dry_run_and_refuses_while_an_old_release_may_run(
    own_table: tuple[Table, Settings],
    dynamodb: DynamoDBClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    table, settings = own_table
    total = await seed_old_release(dynamodb, table.name, listings=3)
    monkeypatch.setenv("HUSTLEHUB_MODE", "test")
    monkeypatch.setenv("HUSTLEHUB_DYNAMODB_ENDPOINT", str(settings.dynamodb_endpoint))
    monkeypatch.setenv("HUSTLEHUB_TABLE_NAME", table.name)
    cp = tmp_path / "cp.json"
    await _in_thread(["schema", "upgrade", "--dry-run", "--checkpoint", str(cp), "--segments", "2"])
    printed = capsys.readouterr().out
    report = json.loads(printed[printed.index("{") :])
    assert (report["dry_run"], report["scanned"], report["upgraded"]) == (True, total, 0)
    assert sum(report["to_upgrade"].values()) == total

    monkeypatch.setenv("HUSTLEHUB_ITEM_SCHEMA_WRITE_VERSION", "1")
    with pytest.raises(SystemExit) as refused:
        await _in_thread(["schema", "upgrade", "--checkpoint", str(tmp_path / "x.json")])
    assert refused.value.code == 2
    assert "refused" in capsys.readouterr().err


async def _in_thread(argv: list[str]) -> None:
    # The command runs its own event loop, as it does from a shell.
    await asyncio.to_thread(main, argv)
