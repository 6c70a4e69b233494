"""BatchWriteItem and BatchGetItem within DynamoDB's real limits (25 writes, 100 keys), retrying
the unprocessed remainder with the table's backoff until written or out of budget."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from service.errors import StoreUnavailable
from service.store.codec import Item
from service.store.table import Table

WRITE_CHUNK = 25
GET_CHUNK = 100


def put_request(item: Item) -> dict[str, Any]:
    return {"PutRequest": {"Item": item}}


def delete_request(key: Mapping[str, Any]) -> dict[str, Any]:
    return {"DeleteRequest": {"Key": dict(key)}}


async def batch_write(table: Table, requests: Sequence[dict[str, Any]]) -> None:
    for start in range(0, len(requests), WRITE_CHUNK):
        await _write_chunk(table, list(requests[start : start + WRITE_CHUNK]))


async def _write_chunk(table: Table, pending: list[dict[str, Any]]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + table.deadline_s
    for attempt in range(1, table.max_attempts + 1):
        response = await table.call("BatchWriteItem", RequestItems={table.name: pending})
        pending = list(response.get("UnprocessedItems", {}).get(table.name, []))
        if not pending:
            return
        table.observer.unprocessed("BatchWriteItem", len(pending))
        delay = table.backoff(attempt)
        if loop.time() + delay >= deadline:
            break
        await asyncio.sleep(delay)
    raise StoreUnavailable(
        f"BatchWriteItem left {len(pending)} items unprocessed", code="UnprocessedItems"
    )


async def batch_get(
    table: Table, keys: Sequence[Mapping[str, Any]], *, consistent: bool = False
) -> list[Item]:
    """Every item found for `keys`, in no particular order; missing keys are simply absent."""
    found: list[Item] = []
    for start in range(0, len(keys), GET_CHUNK):
        chunk = [dict(key) for key in keys[start : start + GET_CHUNK]]
        found.extend(await _get_chunk(table, chunk, consistent=consistent))
    return found


async def _get_chunk(table: Table, pending: list[Item], *, consistent: bool) -> list[Item]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + table.deadline_s
    found: list[Item] = []
    for attempt in range(1, table.max_attempts + 1):
        request = {table.name: {"Keys": pending, "ConsistentRead": consistent}}
        response = await table.call("BatchGetItem", RequestItems=request)
        found.extend(response.get("Responses", {}).get(table.name, []))
        pending = list(response.get("UnprocessedKeys", {}).get(table.name, {}).get("Keys", []))
        if not pending:
            return found
        table.observer.unprocessed("BatchGetItem", len(pending))
        delay = table.backoff(attempt)
        if loop.time() + delay >= deadline:
            break
        await asyncio.sleep(delay)
    raise StoreUnavailable(
        f"BatchGetItem left {len(pending)} keys unprocessed", code="UnprocessedKeys"
    )
