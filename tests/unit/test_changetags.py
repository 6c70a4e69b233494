"""tags_for_change on the items the store itself writes (its own item builders), for every item
type of the key scheme, and the kind classifier on the keys that name them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from service.models.audit import AuditEvent
from service.models.category import Category
from service.models.listing import Listing
from service.models.user import UserProfile
from service.store import keys
from service.store.categories import category_item
from service.store.codec import entity_item, serialize
from service.store.common import slug_item
from service.store.copies import entry_item, listing_copy_item
from service.store.favourites import favourite_item
from service.store.listings import listing_item
from service.store.users import admin_item, profile_item
from service.streams.changetags import Image, tags_for_change

AT = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def category(**changes: object) -> Category:
    base = Category(
        id="01JCAT",
        slug="pet-care",
        name="Pet care",
        listing_count=3,
        version=4,
        created_at=AT,
        updated_at=AT,
    )
    return base.model_copy(update=changes)


def listing(**changes: object) -> Listing:
    base = Listing.model_validate(
        {
            "id": "01JLST",
            "slug": "dog-walking",
            "title": "Dog walking",
            "categoryId": "01JCAT",
            "categorySlug": "pet-care",
            "categoryName": "Pet care",
            "incomePotential": {"min": 1, "max": 2},
            "version": 2,
            "createdAt": AT,
            "updatedAt": AT,
        }
    )
    return base.model_copy(update=changes)


def with_attr(image: Image, **attrs: object) -> Image:
    return {**image, **{name: serialize(value) for name, value in attrs.items()}}


def test_a_category_item_drops_the_category_by_id_and_slug_and_its_pages() -> None:
    item = category_item(category())
    assert tags_for_change(None, item) == {"c:01JCAT", "c:pet-care"}
    assert tags_for_change(item, None) == {"c:01JCAT", "c:pet-care"}
    described = category_item(category(description="Walks and sitting"))
    assert tags_for_change(item, described) == {"c:01JCAT", "c:pet-care"}


def test_a_listing_count_change_drops_the_category_and_the_list_via_its_entry() -> None:
    before, after = category(), category(listing_count=4)
    assert tags_for_change(category_item(before), category_item(after)) == {
        "c:01JCAT",
        "c:pet-care",
    }
    assert tags_for_change(entry_item(before), entry_item(after)) == {"categories"}


def test_a_category_slug_or_name_change_drops_both_slugs_and_every_listing_body() -> None:
    item = category_item(category())
    reslugged = category_item(category(slug="animal-care"))
    renamed = category_item(category(name="Animals"))
    assert tags_for_change(item, reslugged) == {
        "c:01JCAT",
        "c:pet-care",
        "c:animal-care",
        "listings",
    }
    assert tags_for_change(item, renamed) == {"c:01JCAT", "c:pet-care", "listings"}


def test_a_category_entry_drops_the_category_list_only() -> None:
    entry = entry_item(category())
    assert tags_for_change(None, entry) == {"categories"}
    assert tags_for_change(entry, None) == {"categories"}
    moved = entry_item(category(sort_order=7))
    assert tags_for_change(entry, with_attr(entry, name="Animals")) == {"categories"}
    assert tags_for_change(None, moved) == {"categories"}


def test_a_listing_item_drops_the_listing_by_id_and_by_old_and_new_slug() -> None:
    item = listing_item(listing(), category_version=4)
    assert tags_for_change(None, item) == {"l:01JLST", "l:dog-walking"}
    assert tags_for_change(item, None) == {"l:01JLST", "l:dog-walking"}
    reslugged = listing_item(listing(slug="dog-walks", version=3), category_version=4)
    assert tags_for_change(item, reslugged) == {"l:01JLST", "l:dog-walking", "l:dog-walks"}
    # Not the category's pages: those read the copy, whose own change drops them.
    assert not {tag for tag in tags_for_change(item, reslugged) if tag.startswith("c:")}


def test_a_category_listing_row_drops_its_categorys_pages_by_id_and_slug() -> None:
    row = listing_copy_item(listing(), category_version=4)
    assert tags_for_change(None, row) == {"c:01JCAT", "c:pet-care"}
    assert tags_for_change(row, None) == {"c:01JCAT", "c:pet-care"}
    retitled = listing_copy_item(listing(title="Dog walks", version=3), category_version=4)
    assert tags_for_change(row, retitled) == {"c:01JCAT", "c:pet-care"}
    refreshed = with_attr(row, categorySlug="animal-care", categoryName="Animals")
    assert tags_for_change(row, refreshed) == {"c:01JCAT", "c:pet-care", "c:animal-care"}


def test_a_row_without_a_category_slug_still_drops_the_pages_by_id() -> None:
    row = dict(listing_copy_item(listing(), category_version=4))
    del row["categorySlug"]
    assert tags_for_change(None, row) == {"c:01JCAT"}


def test_a_slug_mapping_drops_what_the_slug_reached() -> None:
    category_slug = slug_item("CATEGORY", "pet-care", "01JCAT")
    listing_slug = slug_item("LISTING", "dog-walking", "01JLST")
    assert tags_for_change(None, category_slug) == {"c:pet-care"}
    assert tags_for_change(category_slug, None) == {"c:pet-care"}
    assert tags_for_change(None, listing_slug) == {"l:dog-walking"}
    repointed = with_attr(listing_slug, targetId="01JOTHER")
    assert tags_for_change(listing_slug, repointed) == {"l:dog-walking"}


@pytest.mark.parametrize(
    "item",
    [
        profile_item(UserProfile(sub="u1", email="u1@example.com", created_at=AT)),
        admin_item("u1", AT, "console"),
        favourite_item("u1", "01JLST", AT),
        entity_item(
            AuditEvent(
                id="01JEVT",
                at=AT,
                actor="console",
                action="update",
                entity_type="Listing",
                entity_id="01JLST",
            ),
            "AuditEvent",
            keys.audit(AT, "01JEVT"),
        ),
    ],
    ids=["user", "admin", "favourite", "audit"],
)
def test_items_no_cached_read_shows_drop_nothing(item: Image) -> None:
    assert tags_for_change(None, item) == frozenset()
    assert tags_for_change(item, with_attr(item, note="edited by hand")) == frozenset()
    assert tags_for_change(item, None) == frozenset()


def test_an_unchanged_item_and_a_foreign_key_drop_nothing() -> None:
    item = listing_item(listing(), category_version=4)
    assert tags_for_change(item, dict(item)) == frozenset()
    assert tags_for_change(None, None) == frozenset()
    stray = {"PK": {"S": "SOMETHING#else"}, "SK": {"S": "METADATA#x"}}
    assert tags_for_change(None, stray) == frozenset()
    assert tags_for_change(None, {"PK": {"N": "1"}, "SK": {"S": "x"}}) == frozenset()


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        (keys.user("u1"), "User"),
        (keys.admin("u1"), "Admin"),
        (keys.category("c1"), "Category"),
        (keys.category_entry(3, "c1"), "CategoryEntry"),
        (keys.listing("l1"), "Listing"),
        (keys.category_listing("c1", AT, "l1"), "CategoryListing"),
        (keys.favourite("u1", "l1"), "Favourite"),
        (keys.slug("CATEGORY", "pet-care"), "SlugMapping"),
        (keys.slug("LISTING", "dog-walking"), "SlugMapping"),
        (keys.audit(AT, "e1"), "AuditEvent"),
        (keys.key("LISTING#l1", "METADATA#l2"), None),
        (keys.key("CATEGORY#c1", "OTHER#x"), None),
        (keys.key("SLUG#USER#x", "METADATA#x"), None),
        (keys.key("NOPE", "NOPE"), None),
    ],
)
def test_every_key_of_the_scheme_names_its_kind(key: keys.Key, kind: str | None) -> None:
    assert keys.kind_of(key[keys.PK]["S"], key[keys.SK]["S"]) == kind
