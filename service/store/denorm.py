"""Keeping a category's slug and name current on its listings after a rename.

Runs after the category's transaction, so it is best-effort but idempotent: each listing is
updated only while it is still in the category and only forward in category versions
(`categoryVersion`), so a slow refresh of an older rename can never overwrite a newer one.
"""

from __future__ import annotations

import asyncio

from service.models.category import Category
from service.store import keys
from service.store.codec import Item, serialize
from service.store.paging import query_all
from service.store.table import ConditionFailed, Table

MAX_LISTINGS = 100_000
_CONCURRENCY = 8


async def refresh_listings_of(table: Table, category: Category) -> int:
    """Rewrite categorySlug/categoryName on the category's listings; returns how many changed."""
    changed = 0
    async for page in query_all(
        table,
        max_items=MAX_LISTINGS,
        IndexName=keys.GSI1,
        KeyConditionExpression="GSI1PK = :pk",
        ExpressionAttributeValues={":pk": {"S": keys.listings_of(category.id)}},
        ProjectionExpression="PK, SK",
    ):
        for start in range(0, len(page), _CONCURRENCY):
            chunk = page[start : start + _CONCURRENCY]
            results = await asyncio.gather(*(_refresh(table, item, category) for item in chunk))
            changed += sum(results)
    return changed


async def _refresh(table: Table, item: Item, category: Category) -> bool:
    try:
        await table.call(
            "UpdateItem",
            Key={keys.PK: item[keys.PK], keys.SK: item[keys.SK]},
            UpdateExpression="SET categorySlug = :slug, categoryName = :name, "
            "categoryVersion = :version",
            ConditionExpression="categoryId = :id AND "
            "(attribute_not_exists(categoryVersion) OR categoryVersion < :version)",
            ExpressionAttributeValues={
                ":slug": serialize(category.slug),
                ":name": serialize(category.name),
                ":version": serialize(category.version),
                ":id": serialize(category.id),
            },
        )
    except ConditionFailed:
        return False  # moved to another category, or already newer: nothing to do
    return True
