"""The emulator's Scan (service/dev/motoserver.py, point 6) pages through a table exactly as
moto's own scan does: every item once, in key order, with filters, limits and writes between
pages, and pages that stop at 1 MB."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from service.store import keys
from service.store.batch import batch_write, delete_request, put_request
from service.store.codec import Item, to_item
from service.store.scan import scan_all
from service.store.table import Table

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_a_paged_scan_sees_every_item_once_in_key_order(table: Table) -> None:
    prefix = f"scan-{uuid.uuid4().hex[:8]}"
    big = "x" * 6000  # ~170 of these fill a 1 MB page
    items = [
        {**keys.key(f"{prefix}#{i % 37:03d}", f"S#{i:05d}"),
         **to_item({"type": "ScanTest", "n": i, "pad": big if i % 3 == 0 else "", "odd": i % 2})}
        for i in range(900)
    ]  # fmt: skip
    await batch_write(table, [put_request(item) for item in items])
    mine: dict[str, Any] = {
        "FilterExpression": "begins_with(PK, :p)",
        "ExpressionAttributeValues": {":p": {"S": prefix}},
    }

    pages = [page async for page in scan_all(table, **mine)]
    seen = [(i["PK"]["S"], i["SK"]["S"]) for page in pages for i in page]
    expected = sorted((i["PK"]["S"], i["SK"]["S"]) for i in items)
    assert sorted(seen) == expected
    assert len(seen) == len(set(seen))
    assert len([p for p in pages if p]) >= 2  # the 1 MB limit split it

    limited = [page async for page in scan_all(table, Limit=50, **mine)]
    assert sorted((i["PK"]["S"], i["SK"]["S"]) for p in limited for i in p) == expected

    odd: dict[str, Any] = {
        "FilterExpression": "begins_with(PK, :p) AND odd = :one",
        "ExpressionAttributeValues": {":p": {"S": prefix}, ":one": {"N": "1"}},
    }
    found = [int(i["n"]["N"]) async for i in _items(table, odd)]
    assert sorted(found) == list(range(1, 900, 2))

    # Deleting while scanning (what rollback does): nothing is skipped.
    deleted = 0
    async for page in scan_all(table, ProjectionExpression="PK, SK", **mine):
        await batch_write(table, [delete_request({"PK": i["PK"], "SK": i["SK"]}) for i in page])
        deleted += len(page)
    assert deleted == 900
    assert [i async for i in _items(table, mine)] == []


async def _items(table: Table, scan: dict[str, Any]) -> AsyncIterator[Item]:
    async for page in scan_all(table, **scan):
        for item in page:
            yield item


async def test_a_page_that_ends_at_the_emulators_slice_carries_its_key(table: Table) -> None:
    # Tiny items: more than the 20,000 keys handed to one page fit in 1 MB, so the page ends
    # where the slice does and must still say where to go on.
    prefix = f"tiny-{uuid.uuid4().hex[:6]}"
    count = 21_000
    items = [keys.key(f"{prefix}#{i % 5}", f"{i:05d}") for i in range(count)]
    writes = [put_request(dict(item)) for item in items]
    await asyncio.gather(*(batch_write(table, writes[i : i + 2500]) for i in range(0, count, 2500)))
    mine: dict[str, Any] = {
        "FilterExpression": "begins_with(PK, :p)",
        "ExpressionAttributeValues": {":p": {"S": prefix}},
    }
    seen = [(i["PK"]["S"], i["SK"]["S"]) async for i in _items(table, mine)]
    assert len(seen) == len(set(seen)) == count
