"""Walk the whole table with Scan, page by page, for verify, rollback and the phases' prune.

Bounded by `max_pages`: an empty page with a LastEvaluatedKey is legal (a filter, the 1 MB
limit), so the loop cannot rely on items to end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from service.store import keys
from service.store.codec import Item
from service.store.keys import BATCH_ATTRIBUTE, Key
from service.store.table import Table

MAX_PAGES = 1_000_000


async def scan_all(
    table: Table, *, max_pages: int = MAX_PAGES, **scan: Any
) -> AsyncIterator[list[Item]]:
    start: Key | None = None
    for _ in range(max_pages):
        kwargs = dict(scan)
        if start is not None:
            kwargs["ExclusiveStartKey"] = start
        response = await table.call("Scan", **kwargs)
        yield response.get("Items", [])
        start = response.get("LastEvaluatedKey")
        if start is None:
            return
    raise RuntimeError(f"Scan of {table.name} did not end within {max_pages} pages")


async def scan_batch(table: Table, *, batch: str) -> AsyncIterator[list[Item]]:
    """The key and type of every item tagged `batch`, page by page; empty pages left out."""
    async for page in scan_all(
        table,
        FilterExpression="#batch = :batch",
        ProjectionExpression="#pk, #sk, #type",
        ExpressionAttributeNames={
            "#batch": BATCH_ATTRIBUTE, "#pk": keys.PK, "#sk": keys.SK, "#type": "type",
        },
        ExpressionAttributeValues={":batch": {"S": batch}},
        ConsistentRead=True,
    ):  # fmt: skip
        if page:
            yield page
