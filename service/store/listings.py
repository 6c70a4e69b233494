"""Listings: one item each, a slug mapping, and a copy in their category's partition
(copies.py) that pages are read from, newest first, with ConsistentRead.

A listing carries its category's slug and name (what a list page shows). Every write that
reads a category to copy them also conditions the transaction on that category's version,
so a concurrent rename either lands first (and we read again) or finds this listing's copy
when it refreshes the category's listings afterwards (denorm.py).
"""

from __future__ import annotations

from typing import Any

from ulid import ULID

from service.errors import BadInput, Conflict, NotFound, VersionMismatch
from service.models.audit import entity_event
from service.models.category import Category
from service.models.listing import Listing, ListingCreate, ListingPatch
from service.models.page import Page
from service.store import audit, keys
from service.store.batch import batch_write, delete_request
from service.store.codec import Item, entity_item, load, unknown_attributes
from service.store.common import (
    Repository,
    claim_slug,
    get_item,
    read,
    release_slug,
    resolve_slug,
    retry_stale,
    set_expression,
    version_guard,
)
from service.store.copies import (
    count_in,
    listing_copy_item,
    listing_copy_key,
    missing_copy,
    unknown_category,
)
from service.store.keys import Key
from service.store.paging import query_all, query_page
from service.store.rules import DEFAULT_RULES, ItemRules
from service.store.table import Table
from service.store.txn import Transaction

MAX_FAVOURITES_PER_LISTING = 1_000_000
CHUNK_ITEMS = 250  # the most a chunk of a category may ask for: one Query's worth
_NULLABLE = ("url", "imageUrl")


def listing_item(listing: Listing, category_version: int, rules: ItemRules = DEFAULT_RULES) -> Item:
    return entity_item(
        listing, "Listing", keys.listing(listing.id), rules=rules, categoryVersion=category_version
    )


class ListingStore(Repository):
    async def get(self, listing_id: str, *, consistent: bool = False) -> Listing:
        what = f"listing {listing_id!r}"
        return await read(
            self._table, Listing, keys.listing(listing_id), what, consistent=consistent
        )

    async def get_by_slug(self, slug: str, *, consistent: bool = False) -> Listing:
        listing_id = await resolve_slug(self._table, "LISTING", slug, consistent=consistent)
        return await self.get(listing_id, consistent=consistent)

    async def list_by_category(
        self, category_id: str, *, limit: int, cursor: str | None
    ) -> Page[Listing]:
        """Newest first. Does not check that the category exists: an unknown one is empty."""
        if not 1 <= limit <= 1000:
            raise BadInput("limit out of range")
        partition = keys.listings_of(category_id)
        scope = f"listings:{partition}"
        start = self._start_key(scope, partition, cursor) if cursor is not None else None
        items, next_key = await query_page(
            self._table,
            limit=limit,
            start=start,
            key_attrs=keys.TABLE_KEYS,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
            ExpressionAttributeValues={
                ":pk": {"S": partition},
                ":prefix": {"S": keys.LISTING_PREFIX},
            },
            ScanIndexForward=False,
            ConsistentRead=True,
        )
        next_cursor = self._cursors.encode_key(scope, next_key) if next_key else None
        return Page(items=[load(Listing, item) for item in items], next_cursor=next_cursor)

    async def chunk_in_category(
        self, category_id: str, *, older_than: str | None, limit: int
    ) -> list[Listing]:
        """Up to `limit + 1` listings of a category (the extra one tells the caller that more
        follow), newest first, starting right after the sort key `older_than` (createdAt#id,
        as service.catalog.category_rows.sort_key; None: from the newest). One Query of one
        chunk (service.catalog.category_rows). Strongly consistent: the answer becomes a cache
        entry."""
        if not 1 <= limit <= CHUNK_ITEMS:
            raise BadInput("limit out of range")
        values: dict[str, Any] = {
            ":pk": {"S": keys.listings_of(category_id)},
            ":prefix": {"S": keys.LISTING_PREFIX},
        }
        if older_than is None:
            condition = "PK = :pk AND begins_with(SK, :prefix)"
        else:
            # BETWEEN is inclusive: the row at `older_than` itself, if it is still there, comes
            # first and is dropped, so one more is asked for.
            condition = "PK = :pk AND SK BETWEEN :prefix AND :top"
            values[":top"] = {"S": keys.LISTING_PREFIX + older_than}
        items, _ = await query_page(
            self._table,
            limit=limit + 2,
            start=None,
            key_attrs=keys.TABLE_KEYS,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=values,
            ScanIndexForward=False,
            ConsistentRead=True,
        )
        if older_than is not None and items and items[0][keys.SK]["S"] == values[":top"]["S"]:
            items = items[1:]
        return [load(Listing, item) for item in items[: limit + 1]]

    def _start_key(self, scope: str, partition: str, cursor: str) -> Key:
        start = self._cursors.decode_key(scope, cursor, attrs=keys.TABLE_KEYS)
        if start[keys.PK]["S"] != partition:
            raise BadInput("invalid cursor")
        return start

    async def _category(self, category_id: str) -> Category:
        category = await self._category_or_none(category_id)
        if category is None:
            raise unknown_category(category_id)
        return category

    async def _category_or_none(self, category_id: str) -> Category | None:
        item = await get_item(self._table, keys.category(category_id), consistent=True)
        return None if item is None else load(Category, item)

    async def create(self, data: ListingCreate, *, actor: str) -> Listing:
        listing_id = str(ULID())
        return await retry_stale(lambda: self._create_once(listing_id, data, actor), "category")

    async def _create_once(self, listing_id: str, data: ListingCreate, actor: str) -> Listing:
        category = await self._category(data.category_id)
        now = self._clock()
        listing = Listing.model_validate(
            {
                **data.model_dump(mode="json"),
                "id": listing_id,
                "category_slug": category.slug,
                "category_name": category.name,
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
        )
        txn = Transaction()
        count_in(txn, category, +1)  # first: an unknown category (422) outranks a taken slug
        txn.put(
            listing_item(listing, category.version, self._rules),
            condition="attribute_not_exists(PK)",
            on_fail=lambda _r: Conflict("listing id is taken"),
        )
        txn.put(listing_copy_item(listing, category.version, self._rules))
        claim_slug(txn, "LISTING", listing.slug, listing.id)
        audit.record(txn, entity_event("create", listing, at=now, actor=actor), self._rules)
        await txn.commit(self._table)
        return listing

    async def update(
        self, listing_id: str, patch: ListingPatch, *, expected_version: int, actor: str
    ) -> tuple[Listing, Listing]:
        return await retry_stale(
            lambda: self._update_once(listing_id, patch, expected_version, actor),
            f"listing {listing_id!r}",
        )

    async def _update_once(
        self, listing_id: str, patch: ListingPatch, expected_version: int, actor: str
    ) -> tuple[Listing, Listing]:
        stored = await get_item(self._table, keys.listing(listing_id), consistent=True)
        if stored is None:
            raise NotFound(f"listing {listing_id!r} not found")
        before = load(Listing, stored)
        if before.version != expected_version:
            raise VersionMismatch(
                f"listing {listing_id!r} is at another version", current_version=before.version
            )
        sent = patch.model_dump(mode="json", exclude_unset=True)
        # null clears the optional links; for every other field null means "leave as is".
        changes = {k: v for k, v in sent.items() if v is not None or k in ("url", "image_url")}
        moving = changes.get("category_id", before.category_id) != before.category_id
        target = await self._category(changes["category_id"]) if moving else None
        # Gone (a stray listing) means there is no count to take it out of.
        source = await self._category_or_none(before.category_id) if moving else None
        now = self._clock()
        denormalised = (
            {"category_slug": target.slug, "category_name": target.name} if target else {}
        )
        after = Listing.model_validate(
            {
                **before.model_dump(),
                **changes,
                **denormalised,
                "version": before.version + 1,
                "updated_at": now,
            }
        )
        unknown = unknown_attributes(stored, Listing)
        category_version = (
            target.version if target else int(stored.get("categoryVersion", {"N": "1"})["N"])
        )
        # The item as it will be: refused here when DynamoDB would refuse it.
        whole = {**unknown, **listing_item(after, category_version, self._rules)}
        self._table.check_size(whole, "TransactWriteItems")
        txn = Transaction()
        self._put_changes(txn, before, after, target, expected_version, unknown)
        if target is not None:
            count_in(txn, target, +1)
            if source is not None:
                count_in(txn, source, -1)
        if after.slug != before.slug:
            release_slug(txn, "LISTING", before.slug, listing_id)
            claim_slug(txn, "LISTING", after.slug, listing_id)
        audit.record(txn, entity_event("update", after, at=now, actor=actor), self._rules)
        await txn.commit(self._table)
        return before, after

    def _put_changes(
        self,
        txn: Transaction,
        before: Listing,
        after: Listing,
        target: Category | None,
        expected_version: int,
        unknown: Item,
    ) -> None:
        old, new = before.model_dump(by_alias=True), after.model_dump(by_alias=True)
        attrs: dict[str, Any] = {
            name: value
            for name, value in new.items()
            if value != old.get(name) and not (value is None and name in _NULLABLE)
        }
        # Every attribute a schema version changed is rewritten, so the stamp is true.
        attrs["description"] = self._rules.pack(after.description)
        attrs.update(self._rules.stamp())
        if target is not None:
            attrs["categoryVersion"] = target.version
        remove = tuple(n for n in _NULLABLE if new.get(n) is None and old.get(n) is not None)
        expression, names, values = set_expression(attrs, remove=remove)
        txn.update(
            keys.listing(after.id),
            expression,
            condition="version = :expected",
            names=names,
            values={**values, ":expected": expected_version},
            on_fail=version_guard(f"listing {after.id!r}"),
        )
        if target is not None:
            # Another partition: the old copy goes, a whole new one (target's names) comes.
            txn.delete(listing_copy_key(before))
            txn.put({**unknown, **listing_copy_item(after, target.version, self._rules)})
            return
        # The same changes, not a Put of `after`: a rename's refresh may have reached the copy
        # since we read, and a Put would write the old category name back over it.
        txn.update(
            listing_copy_key(before),
            expression,
            condition="attribute_exists(PK)",
            names=names,
            values=values,
            on_fail=missing_copy(f"listing {after.id!r}"),
        )

    async def delete(self, listing_id: str, *, actor: str) -> Listing:
        before = await retry_stale(
            lambda: self._delete_once(listing_id, actor), f"listing {listing_id!r}"
        )
        await self._delete_favourites(listing_id)
        return before

    async def _delete_once(self, listing_id: str, actor: str) -> Listing:
        before = await self.get(listing_id, consistent=True)
        category = await self._category_or_none(before.category_id)
        txn = Transaction()
        txn.delete(
            keys.listing(listing_id),
            condition="version = :v",
            values={":v": before.version},
            on_fail=version_guard(f"listing {listing_id!r}", stale_is_retry=True),
        )
        txn.delete(listing_copy_key(before))
        release_slug(txn, "LISTING", before.slug, listing_id)
        if category is not None:
            count_in(txn, category, -1)
        audit.record(
            txn, entity_event("delete", before, at=self._clock(), actor=actor), self._rules
        )
        await txn.commit(self._table)
        return before

    async def _delete_favourites(self, listing_id: str) -> None:
        # After the listing's transaction: a favourite saved in between is skipped on read.
        await delete_favourites_of(self._table, listing_id)


async def delete_favourites_of(table: Table, listing_id: str) -> None:
    """Remove every favourite of a listing that is gone (who saved it: GSI1)."""
    async for page in query_all(
        table,
        max_items=MAX_FAVOURITES_PER_LISTING,
        IndexName=keys.GSI1,
        KeyConditionExpression="GSI1PK = :pk",
        ExpressionAttributeValues={":pk": {"S": keys.favourited_by(listing_id)}},
        ProjectionExpression="PK, SK",
    ):
        requests = [delete_request({keys.PK: i[keys.PK], keys.SK: i[keys.SK]}) for i in page]
        await batch_write(table, requests)
