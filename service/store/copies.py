"""The base-table copies that public list pages read: category entries and category listings.

A public page is cached, and after a write invalidates it the next loader must read the write.
GSI reads are never strongly consistent, so the two lists live in the base table, where a
Query can be (ConsistentRead=True):

- `CATEGORIES` / `<sortOrder:06d>#<categoryId>`: one entry per category, listingCount included;
- `CATEGORY#<categoryId>` / `LISTING#<createdAt>#<listingId>`: one copy per listing, in the
  partition of the category it is in.

Invariant: a copy holds its entity's attributes (not its keys or `type`). Every transaction
that changes an entity changes its copy in the same TransactWriteItems, and every change of
listingCount is an ADD to both the category and its entry, so concurrent listing writes never
have to read the count.
"""

from __future__ import annotations

from service.errors import FieldError, InvalidFields, StoreError
from service.models.category import Category
from service.models.listing import Listing
from service.store import keys
from service.store.codec import Item, entity_item
from service.store.common import StaleRead
from service.store.keys import Key
from service.store.rules import DEFAULT_RULES, ItemRules
from service.store.table import CancellationReason
from service.store.txn import OnFail, Refusal, Transaction

CATEGORY_ENTRY = "CategoryEntry"
CATEGORY_LISTING = "CategoryListing"


def missing_copy(what: str) -> OnFail:
    # Only a table written before the copies existed lacks one: a data problem, not a race.
    return lambda _r: StoreError(f"{what} has no list copy; backfill it", code="MissingCopy")


def unknown_category(category_id: str) -> InvalidFields:
    return InvalidFields(
        "unknown category",
        [FieldError(loc=("categoryId",), msg=f"category {category_id!r} does not exist")],
    )


def entry_key(category: Category) -> Key:
    return keys.category_entry(category.sort_order, category.id)


def entry_item(category: Category, rules: ItemRules = DEFAULT_RULES) -> Item:
    return entity_item(category, CATEGORY_ENTRY, entry_key(category), rules=rules)


def listing_copy_key(listing: Listing) -> Key:
    return keys.category_listing(listing.category_id, listing.created_at, listing.id)


def listing_copy_item(
    listing: Listing, category_version: int, rules: ItemRules = DEFAULT_RULES
) -> Item:
    # categoryVersion lets a rename's refresh (denorm.py) move the copy only forward.
    return entity_item(
        listing,
        CATEGORY_LISTING,
        listing_copy_key(listing),
        rules=rules,
        categoryVersion=category_version,
    )


def count_in(txn: Transaction, category: Category, delta: int) -> None:
    """ADD `delta` to listingCount on the category and its entry.

    Guarded on the version we read: it proves the slug and name we copied onto a listing are
    current, and that the entry's key (from sortOrder) is the one to update.
    """

    def on_fail(reason: CancellationReason) -> Refusal:
        # A target that vanished is the caller's mistake; a source that vanished: read again.
        if reason.item is None and delta > 0:
            return unknown_category(category.id)
        return StaleRead()

    txn.update(
        keys.category(category.id),
        "ADD listingCount :delta",
        condition="version = :cv",
        values={":delta": delta, ":cv": category.version},
        on_fail=on_fail,
    )
    # The condition stops ADD from conjuring a stub entry that the list would then show.
    txn.update(
        entry_key(category),
        "ADD listingCount :delta",
        condition="attribute_exists(PK)",
        values={":delta": delta},
        on_fail=missing_copy(f"category {category.id!r}"),
    )
