"""Listings: one item each, paged newest first in their category's GSI1 partition.

A listing carries its category's slug and name (what a list page shows). Every write that
reads a category to copy them also conditions the transaction on that category's version,
so a concurrent rename either lands first (and we read again) or finds this listing when it
refreshes the category's listings afterwards (denorm.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from ulid import ULID

from service.errors import (
    BadInput,
    Conflict,
    FieldError,
    InvalidFields,
    ServiceError,
    VersionMismatch,
)
from service.models.base import utcnow
from service.models.category import Category
from service.models.listing import Listing, ListingCreate, ListingPatch
from service.models.page import Page
from service.store import audit, keys
from service.store.batch import batch_write, delete_request
from service.store.codec import Item, entity_item, load
from service.store.common import (
    StaleRead,
    claim_slug,
    get_item,
    read,
    release_slug,
    resolve_slug,
    retry_stale,
    set_expression,
    version_guard,
)
from service.store.cursor import CursorCodec
from service.store.paging import query_all, query_page
from service.store.table import CancellationReason, Table
from service.store.txn import Transaction

MAX_FAVOURITES_PER_LISTING = 1_000_000
_NULLABLE = ("url", "imageUrl")


def unknown_category(category_id: str) -> InvalidFields:
    return InvalidFields(
        "unknown category",
        [FieldError(loc=("categoryId",), msg=f"category {category_id!r} does not exist")],
    )


def listing_item(listing: Listing, category_version: int) -> Item:
    index = keys.listing_index(listing.category_id, listing.created_at, listing.id)
    return entity_item(
        listing, "Listing", keys.listing(listing.id), categoryVersion=category_version, **index
    )


def count_in(txn: Transaction, category: Category, delta: int) -> None:
    """ADD to listingCount, guarded on the category version whose slug and name we copied."""

    def on_fail(reason: CancellationReason) -> ServiceError:
        return unknown_category(category.id) if reason.item is None else StaleRead()

    txn.update(
        keys.category(category.id),
        "ADD listingCount :delta",
        condition="version = :cv",
        values={":delta": delta, ":cv": category.version},
        on_fail=on_fail,
    )


def uncount(txn: Transaction, category_id: str) -> None:
    # The condition stops ADD from conjuring a stub item should the category be gone.
    txn.update(
        keys.category(category_id),
        "ADD listingCount :delta",
        condition="attribute_exists(PK)",
        values={":delta": -1},
        on_fail=lambda _r: StaleRead(),
    )


class ListingStore:
    def __init__(
        self, table: Table, cursors: CursorCodec, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._table = table
        self._cursors = cursors
        self._clock = clock

    async def get(self, listing_id: str, *, consistent: bool = False) -> Listing:
        what = f"listing {listing_id!r}"
        return await read(
            self._table, Listing, keys.listing(listing_id), what, consistent=consistent
        )

    async def get_by_slug(self, slug: str) -> Listing:
        return await self.get(await resolve_slug(self._table, "LISTING", slug))

    async def list_by_category(
        self, category_id: str, *, limit: int, cursor: str | None
    ) -> Page[Listing]:
        """Newest first. Does not check that the category exists: an unknown one is empty."""
        if not 1 <= limit <= 1000:
            raise BadInput("limit out of range")
        partition = keys.listings_of(category_id)
        scope = f"listings:{partition}"
        start = None
        if cursor is not None:
            start = self._cursors.decode_key(scope, cursor, attrs=keys.GSI1_KEYS)
            if start[keys.GSI1PK]["S"] != partition:
                raise BadInput("invalid cursor")
        items, next_key = await query_page(
            self._table,
            limit=limit,
            start=start,
            key_attrs=keys.GSI1_KEYS,
            IndexName=keys.GSI1,
            KeyConditionExpression="GSI1PK = :pk AND begins_with(GSI1SK, :prefix)",
            ExpressionAttributeValues={":pk": {"S": partition}, ":prefix": {"S": "LISTING#"}},
            ScanIndexForward=False,
        )
        next_cursor = self._cursors.encode_key(scope, next_key) if next_key else None
        return Page(items=[load(Listing, item) for item in items], next_cursor=next_cursor)

    async def _category(self, category_id: str) -> Category:
        item = await get_item(self._table, keys.category(category_id), consistent=True)
        if item is None:
            raise unknown_category(category_id)
        return load(Category, item)

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
            listing_item(listing, category.version),
            condition="attribute_not_exists(PK)",
            on_fail=lambda _r: Conflict("listing id is taken"),
        )
        claim_slug(txn, "LISTING", listing.slug, listing.id)
        audit.record(
            txn,
            at=now,
            actor=actor,
            action="create",
            entity_type="Listing",
            entity_id=listing.id,
            version=1,
        )
        await txn.commit(self._table)
        return listing

    async def update(
        self, listing_id: str, patch: ListingPatch, *, expected_version: int, actor: str
    ) -> tuple[Listing, Listing]:
        return await retry_stale(
            lambda: self._update_once(listing_id, patch, expected_version, actor), "category"
        )

    async def _update_once(
        self, listing_id: str, patch: ListingPatch, expected_version: int, actor: str
    ) -> tuple[Listing, Listing]:
        before = await self.get(listing_id, consistent=True)
        if before.version != expected_version:
            raise VersionMismatch(f"listing {listing_id!r} is at another version")
        sent = patch.model_dump(mode="json", exclude_unset=True)
        # null clears the optional links; for every other field null means "leave as is".
        changes = {k: v for k, v in sent.items() if v is not None or k in ("url", "image_url")}
        moving = changes.get("category_id", before.category_id) != before.category_id
        target = await self._category(changes["category_id"]) if moving else None
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
        txn = Transaction()
        self._put_changes(txn, before, after, target, expected_version)
        if target is not None:
            count_in(txn, target, +1)
            uncount(txn, before.category_id)
        if after.slug != before.slug:
            release_slug(txn, "LISTING", before.slug, listing_id)
            claim_slug(txn, "LISTING", after.slug, listing_id)
        audit.record(
            txn,
            at=now,
            actor=actor,
            action="update",
            entity_type="Listing",
            entity_id=listing_id,
            version=after.version,
        )
        await txn.commit(self._table)
        return before, after

    def _put_changes(
        self,
        txn: Transaction,
        before: Listing,
        after: Listing,
        target: Category | None,
        expected_version: int,
    ) -> None:
        old, new = before.model_dump(by_alias=True), after.model_dump(by_alias=True)
        attrs: dict[str, Any] = {
            name: value
            for name, value in new.items()
            if value != old.get(name) and not (value is None and name in _NULLABLE)
        }
        if target is not None:
            attrs["categoryVersion"] = target.version
            attrs.update(keys.listing_index(target.id, after.created_at, after.id))
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

    async def delete(self, listing_id: str, *, actor: str) -> Listing:
        before = await retry_stale(
            lambda: self._delete_once(listing_id, actor), f"listing {listing_id!r}"
        )
        await self._delete_favourites(listing_id)
        return before

    async def _delete_once(self, listing_id: str, actor: str) -> Listing:
        before = await self.get(listing_id, consistent=True)
        txn = Transaction()
        txn.delete(
            keys.listing(listing_id),
            condition="version = :v",
            values={":v": before.version},
            on_fail=version_guard(f"listing {listing_id!r}", stale_is_retry=True),
        )
        release_slug(txn, "LISTING", before.slug, listing_id)
        uncount(txn, before.category_id)
        audit.record(
            txn,
            at=self._clock(),
            actor=actor,
            action="delete",
            entity_type="Listing",
            entity_id=listing_id,
            version=before.version,
        )
        await txn.commit(self._table)
        return before

    async def _delete_favourites(self, listing_id: str) -> None:
        # After the listing's transaction: a favourite saved in between is skipped on read.
        async for page in query_all(
            self._table,
            max_items=MAX_FAVOURITES_PER_LISTING,
            IndexName=keys.GSI1,
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues={":pk": {"S": keys.favourited_by(listing_id)}},
            ProjectionExpression="PK, SK",
        ):
            requests = [delete_request({keys.PK: i[keys.PK], keys.SK: i[keys.SK]}) for i in page]
            await batch_write(self._table, requests)
