"""Walk the whole table with Scan, page by page, for verify and rollback.

Bounded by `max_pages`: an empty page with a LastEvaluatedKey is legal (a filter, the 1 MB
limit), so the loop cannot rely on items to end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from service.store.codec import Item
from service.store.keys import Key
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
