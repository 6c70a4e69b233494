"""Keeping a category's slug and name current on its listings after a rename.

Runs after the category's transaction, so it is best-effort but idempotent: each listing and
its copy in the category's partition (copies.py) are updated only while the listing is still in
the category and only forward in category versions (`categoryVersion`), so a slow refresh of an
older rename can never overwrite a newer one. The copies are found with a consistent Query, so
a listing that joined the category before the rename committed is always among them.
"""

from __future__ import annotations

import asyncio

from service.models.category import Category
from service.store import keys
from service.store.codec import Item, serialize
from service.store.keys import Key
from service.store.paging import query_all
from service.store.table import ConditionFailed, Table

MAX_LISTINGS = 100_000
_CONCURRENCY = 8


async def refresh_listings_of(table: Table, category: Category) -> int:
    """Rewrite categorySlug/categoryName on the category's listings and their copies; returns
    how many listings (item or copy) changed."""
    changed = 0
    async for page in query_all(
        table,
        max_items=MAX_LISTINGS,
        KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
        ExpressionAttributeValues={
            ":pk": {"S": keys.listings_of(category.id)},
            ":prefix": {"S": keys.LISTING_PREFIX},
        },
        ProjectionExpression="PK, SK, #id",
        ExpressionAttributeNames={"#id": "id"},
        ConsistentRead=True,
    ):
        for start in range(0, len(page), _CONCURRENCY):
            chunk = page[start : start + _CONCURRENCY]
            results = await asyncio.gather(*(_refresh_both(table, c, category) for c in chunk))
            changed += sum(results)
    return changed


async def _refresh_both(table: Table, copy: Item, category: Category) -> bool:
    listing = keys.listing(str(copy["id"]["S"]))
    copy_key = {keys.PK: copy[keys.PK], keys.SK: copy[keys.SK]}
    item_changed = await _refresh(table, listing, category)
    copy_changed = await _refresh(table, copy_key, category)
    return item_changed or copy_changed


async def _refresh(table: Table, key: Key, category: Category) -> bool:
    try:
        await table.call(
            "UpdateItem",
            Key=key,
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
        return False  # moved to another category, gone, or already newer: nothing to do
    return True
