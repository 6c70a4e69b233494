"""Categories: one item each, a slug mapping, and an entry in the CATEGORIES collection
(copies.py) that the sorted list is read from with ConsistentRead."""

from __future__ import annotations

import logging

from ulid import ULID

from service.errors import Conflict, NotFound, StoreError, VersionMismatch
from service.models.audit import entity_event
from service.models.category import Category, CategoryCreate, CategoryPatch
from service.store import audit, keys
from service.store.codec import Item, entity_item, load, unknown_attributes
from service.store.common import (
    Repository,
    StaleRead,
    claim_slug,
    get_item,
    read,
    release_slug,
    resolve_slug,
    retry_stale,
    set_expression,
    stored_version,
    version_guard,
)
from service.store.copies import entry_item, entry_key, missing_copy
from service.store.denorm import refresh_listings_of
from service.store.paging import query_all
from service.store.rules import DEFAULT_RULES, ItemRules
from service.store.table import CancellationReason
from service.store.txn import Refusal, Transaction

MAX_CATEGORIES = 10_000
log = logging.getLogger(__name__)


def category_item(category: Category, rules: ItemRules = DEFAULT_RULES) -> Item:
    return entity_item(category, "Category", keys.category(category.id), rules=rules)


class CategoryStore(Repository):
    async def list_all(self) -> list[Category]:
        categories: list[Category] = []
        async for page in query_all(
            self._table,
            max_items=MAX_CATEGORIES,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": keys.CATEGORIES}},
            ConsistentRead=True,
        ):
            categories.extend(load(Category, item) for item in page)
        # The SK orders by sortOrder then id; the contract is sortOrder then name.
        return sorted(categories, key=lambda c: (c.sort_order, c.name.casefold(), c.id))

    async def get(self, category_id: str, *, consistent: bool = False) -> Category:
        what = f"category {category_id!r}"
        return await read(
            self._table, Category, keys.category(category_id), what, consistent=consistent
        )

    async def get_by_slug(self, slug: str, *, consistent: bool = False) -> Category:
        category_id = await resolve_slug(self._table, "CATEGORY", slug, consistent=consistent)
        return await self.get(category_id, consistent=consistent)

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
            category_item(category, self._rules),
            condition="attribute_not_exists(PK)",
            on_fail=lambda _r: Conflict("category id is taken"),
        )
        txn.put(entry_item(category, self._rules))
        claim_slug(txn, "CATEGORY", category.slug, category.id)
        audit.record(txn, entity_event("create", category, at=now, actor=actor), self._rules)
        await txn.commit(self._table)
        return category

    async def update(
        self, category_id: str, patch: CategoryPatch, *, expected_version: int, actor: str
    ) -> tuple[Category, Category]:
        before, after = await retry_stale(
            lambda: self._update_once(category_id, patch, expected_version, actor),
            f"category {category_id!r}",
        )
        if (after.slug, after.name) != (before.slug, before.name):
            try:
                await refresh_listings_of(self._table, after)
            except StoreError:
                # The rename is committed; failing the request now would invite a retry that
                # can only 412. Re-running refresh_listings_of later is safe (idempotent).
                log.warning("listings of category %s keep the old name for now", category_id)
        return before, after

    async def _update_once(
        self, category_id: str, patch: CategoryPatch, expected_version: int, actor: str
    ) -> tuple[Category, Category]:
        stored = await get_item(self._table, keys.category(category_id), consistent=True)
        if stored is None:
            raise NotFound(f"category {category_id!r} not found")
        before = load(Category, stored)
        if before.version != expected_version:
            raise VersionMismatch(
                f"category {category_id!r} is at another version", current_version=before.version
            )
        changes = {k: v for k, v in patch.changes().items() if v is not None}
        now = self._clock()
        after = Category.model_validate(
            {**before.model_dump(), **changes, "version": before.version + 1, "updated_at": now}
        )
        attrs: dict[str, object] = {
            "slug": after.slug,
            "name": after.name,
            # Every attribute a schema version changed is rewritten, so the stamp is true.
            "description": self._rules.pack(after.description),
            "sortOrder": after.sort_order,
            "version": after.version,
            "updatedAt": after.updated_at,
            **self._rules.stamp(),
        }
        self._table.check_size(
            {**unknown_attributes(stored, Category), **category_item(after, self._rules)},
            "TransactWriteItems",
        )
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
        if after.sort_order == before.sort_order:
            txn.update(
                entry_key(before),
                expression,
                condition="attribute_exists(PK)",
                names=names,
                values=values,
                on_fail=missing_copy(f"category {category_id!r}"),
            )
        else:
            _move_entry(txn, before, after, self._rules, unknown_attributes(stored, Category))
        if after.slug != before.slug:
            release_slug(txn, "CATEGORY", before.slug, category_id)
            claim_slug(txn, "CATEGORY", after.slug, category_id)
        audit.record(txn, entity_event("update", after, at=now, actor=actor), self._rules)
        await txn.commit(self._table)
        return before, after

    async def delete(self, category_id: str, *, actor: str) -> Category:
        return await retry_stale(
            lambda: self._delete_once(category_id, actor), f"category {category_id!r}"
        )

    async def _delete_once(self, category_id: str, actor: str) -> Category:
        before = await self.get(category_id, consistent=True)

        def refused(reason: CancellationReason) -> Refusal:
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
        # No condition of its own: the version condition above proves this is its key.
        txn.delete(entry_key(before))
        release_slug(txn, "CATEGORY", before.slug, category_id)
        audit.record(
            txn, entity_event("delete", before, at=self._clock(), actor=actor), self._rules
        )
        await txn.commit(self._table)
        return before


def _move_entry(
    txn: Transaction, before: Category, after: Category, rules: ItemRules, unknown: Item
) -> None:
    """A new sortOrder is a new key for the entry: delete the old one, put the new one, with
    the attributes of the category this release does not know (`unknown`).

    The new entry takes the count the old one holds at commit: a listing write in between
    ADDs to the old entry and fails the condition here, so we read again.
    """
    count = before.listing_count or 0
    condition = "listingCount = :n"
    if count == 0:
        condition += " OR attribute_not_exists(listingCount)"

    def on_fail(reason: CancellationReason) -> Refusal:
        if reason.item is None:
            return missing_copy(f"category {before.id!r}")(reason)
        return StaleRead()

    txn.delete(entry_key(before), condition=condition, values={":n": count}, on_fail=on_fail)
    txn.put({**unknown, **entry_item(after.model_copy(update={"listing_count": count}), rules)})
