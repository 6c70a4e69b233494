"""Queries that are correct for real DynamoDB's paging.

Real DynamoDB may return a page with a LastEvaluatedKey and no items (a filter, or the 1 MB
limit), and ends a result exactly at its last item with a key followed by an empty page. So
`query_page` keeps querying, bounded, until it holds `limit` items or there is no key, and asks
for one item more than it needs: when that extra item arrives the cursor is built from the last
returned item, so a page that ends the result never carries a cursor to an empty page.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from service.store.codec import Item
from service.store.keys import Key
from service.store.table import Table

MAX_PAGES = 20


async def query_page(
    table: Table,
    *,
    limit: int,
    start: Key | None,
    key_attrs: Sequence[str],
    **query: Any,
) -> tuple[list[Item], Key | None]:
    """Up to `limit` items and the key to continue from (None when the result is exhausted)."""
    items: list[Item] = []
    exclusive_start = start
    for _ in range(MAX_PAGES):
        kwargs = dict(query, Limit=limit + 1 - len(items))
        if exclusive_start is not None:
            kwargs["ExclusiveStartKey"] = exclusive_start
        response = await table.call("Query", **kwargs)
        items.extend(response.get("Items", []))
        exclusive_start = response.get("LastEvaluatedKey")
        if len(items) > limit:
            kept = items[:limit]
            return kept, {attr: kept[-1][attr] for attr in key_attrs}
        if exclusive_start is None:
            return items, None
    # Out of page budget (a long run of empty pages): hand back what we have and where we were.
    return items, exclusive_start


async def query_all(table: Table, *, max_items: int, **query: Any) -> AsyncIterator[list[Item]]:
    """Every page of a query, for internal walks (cleanup, counts); bounded by `max_items`."""
    seen = 0
    start: Key | None = None
    for _ in range(max_items):  # each round yields >= 0 items; the page budget bounds it too
        kwargs = dict(query)
        if start is not None:
            kwargs["ExclusiveStartKey"] = start
        response = await table.call("Query", **kwargs)
        page: list[Item] = response.get("Items", [])
        seen += len(page)
        if page:
            yield page
        start = response.get("LastEvaluatedKey")
        if start is None or seen >= max_items:
            return
