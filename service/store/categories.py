"""Categories: one item each, GSI1 partition CATEGORIES for the sorted list, a slug mapping."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from ulid import ULID

from service.errors import Conflict, NotFound, ServiceError, StoreError, VersionMismatch
from service.models.base import utcnow
from service.models.category import Category, CategoryCreate, CategoryPatch
from service.store import audit, keys
from service.store.codec import Item, entity_item, load
from service.store.common import (
    StaleRead,
    claim_slug,
    read,
    release_slug,
    resolve_slug,
    retry_stale,
    set_expression,
    stored_version,
    version_guard,
)
from service.store.cursor import CursorCodec
from service.store.denorm import refresh_listings_of
from service.store.paging import query_all
from service.store.table import CancellationReason, Table
from service.store.txn import Transaction

MAX_CATEGORIES = 10_000
log = logging.getLogger(__name__)


def category_item(category: Category) -> Item:
    index = keys.category_index(category.sort_order, category.slug)
    return entity_item(category, "Category", keys.category(category.id), **index)


class CategoryStore:
    def __init__(
        self, table: Table, cursors: CursorCodec, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._table = table
        self._clock = clock

    async def list_all(self) -> list[Category]:
        categories: list[Category] = []
        async for page in query_all(
            self._table,
            max_items=MAX_CATEGORIES,
            IndexName=keys.GSI1,
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues={":pk": {"S": keys.CATEGORIES}},
        ):
            categories.extend(load(Category, item) for item in page)
        # GSI1SK orders by sortOrder then slug; the contract is sortOrder then name.
        return sorted(categories, key=lambda c: (c.sort_order, c.name.casefold(), c.id))

    async def get(self, category_id: str, *, consistent: bool = False) -> Category:
        what = f"category {category_id!r}"
        return await read(
            self._table, Category, keys.category(category_id), what, consistent=consistent
        )

    async def get_by_slug(self, slug: str) -> Category:
        return await self.get(await resolve_slug(self._table, "CATEGORY", slug))

    async def create(self, data: CategoryCreate, *, actor: str) -> Category:
        now = self._clock()
        category = Category(
            **data.model_dump(),
            id=str(ULID()),
            listing_count=0,
            version=1,
            created_at=now,
            updated_at=now,
        )
        txn = Transaction()
        txn.put(
            category_item(category),
            condition="attribute_not_exists(PK)",
            on_fail=lambda _r: Conflict("category id is taken"),
        )
        claim_slug(txn, "CATEGORY", category.slug, category.id)
        audit.record(
            txn,
            at=now,
            actor=actor,
            action="create",
            entity_type="Category",
            entity_id=category.id,
            version=1,
        )
        await txn.commit(self._table)
        return category

    async def update(
        self, category_id: str, patch: CategoryPatch, *, expected_version: int, actor: str
    ) -> tuple[Category, Category]:
        before = await self.get(category_id, consistent=True)
        if before.version != expected_version:
            raise VersionMismatch(f"category {category_id!r} is at another version")
        changes = {k: v for k, v in patch.changes().items() if v is not None}
        now = self._clock()
        after = Category.model_validate(
            {**before.model_dump(), **changes, "version": before.version + 1, "updated_at": now}
        )
        attrs: dict[str, object] = {
            "slug": after.slug,
            "name": after.name,
            "description": after.description,
            "sortOrder": after.sort_order,
            "version": after.version,
            "updatedAt": after.updated_at,
            **keys.category_index(after.sort_order, after.slug),
        }
        expression, names, values = set_expression(attrs)
        # listingCount is not part of the SET: listing writes ADD to it concurrently.
        txn = Transaction()
        txn.update(
            keys.category(category_id),
            expression,
            condition="version = :expected",
            names=names,
            values={**values, ":expected": expected_version},
            on_fail=version_guard(f"category {category_id!r}"),
        )
        if after.slug != before.slug:
            release_slug(txn, "CATEGORY", before.slug, category_id)
            claim_slug(txn, "CATEGORY", after.slug, category_id)
        audit.record(
            txn,
            at=now,
            actor=actor,
            action="update",
            entity_type="Category",
            entity_id=category_id,
            version=after.version,
        )
        await txn.commit(self._table)
        if (after.slug, after.name) != (before.slug, before.name):
            try:
                await refresh_listings_of(self._table, after)
            except StoreError:
                # The rename is committed; failing the request now would invite a retry that
                # can only 412. Re-running refresh_listings_of later is safe (idempotent).
                log.warning("listings of category %s keep the old name for now", category_id)
        return before, after

    async def delete(self, category_id: str, *, actor: str) -> Category:
        return await retry_stale(
            lambda: self._delete_once(category_id, actor), f"category {category_id!r}"
        )

    async def _delete_once(self, category_id: str, actor: str) -> Category:
        before = await self.get(category_id, consistent=True)

        def refused(reason: CancellationReason) -> ServiceError:
            current = stored_version(reason)
            if current is None:
                return NotFound(f"category {category_id!r} not found")
            if current != before.version:
                return StaleRead()
            return Conflict(f"category {category_id!r} still has listings")

        txn = Transaction()
        txn.delete(
            keys.category(category_id),
            condition="version = :v AND "
            "(listingCount = :zero OR attribute_not_exists(listingCount))",
            values={":v": before.version, ":zero": 0},
            on_fail=refused,
        )
        release_slug(txn, "CATEGORY", before.slug, category_id)
        audit.record(
            txn,
            at=self._clock(),
            actor=actor,
            action="delete",
            entity_type="Category",
            entity_id=category_id,
            version=before.version,
        )
        await txn.commit(self._table)
        return before
