"""A migrated entity is item for item what the service writes for the same entity: each
entity is created through the service's own stores, read back from the table, described as
the legacy rows it would have come from, transformed, and compared."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from service.config import Settings
from service.migrate import rows
from service.migrate.transform import GRANTED_BY, transform_all
from service.migrate.usermap import UserMap
from service.models.category import CategoryCreate
from service.models.listing import IncomePotential, ListingCreate
from service.store import keys
from service.store.codec import deserialize
from service.store.common import get_item
from service.store.stores import build_stores, cursor_codec
from service.store.table import Table

pytestmark = pytest.mark.asyncio(loop_scope="session")
PROVENANCE = ("supabaseId", "supabaseUpdatedAt")


def _at(item: dict[str, Any] | None, name: str) -> Any:
    from datetime import datetime

    assert item is not None
    return datetime.fromisoformat(deserialize(item[name]))


async def test_migrated_items_equal_the_items_the_service_writes(
    table: Table, migrate_settings: Settings
) -> None:
    stores = build_stores(table, cursor_codec(migrate_settings))
    tag = uuid.uuid4().hex[:8]
    category = await stores.categories.create(
        CategoryCreate(slug=f"same-{tag}", name="Same", description="d", sort_order=7),
        actor="test",
    )
    listing = await stores.listings.create(
        ListingCreate(
            slug=f"same-gig-{tag}", title="A gig", summary="s", description="long",
            category_id=category.id, location="Leeds, UK", remote=True,
            skills=["writing", "editing"],
            income_potential=IncomePotential(min=10, max=90, currency="GBP", period="week"),
            url="https://example.com/gig",
        ),
        actor="test",
    )  # fmt: skip
    sub = str(uuid.uuid4())
    await stores.users.create_profile(sub, email="same@example.test", display_name="Same")
    await stores.users.grant_admin(sub, actor=GRANTED_BY)
    await stores.favourites.save(sub, listing.id)

    written = {
        name: await get_item(table, key, consistent=True)
        for name, key in {
            "category": keys.category(category.id),
            "entry": keys.category_entry(category.sort_order, category.id),
            "category_slug": keys.slug("CATEGORY", category.slug),
            "listing": keys.listing(listing.id),
            "copy": keys.category_listing(category.id, listing.created_at, listing.id),
            "listing_slug": keys.slug("LISTING", listing.slug),
            "user": keys.user(sub),
            "admin": keys.admin(sub),
            "favourite": keys.favourite(sub, listing.id),
        }.items()
    }
    assert all(item is not None for item in written.values()), written
    profile_at = _at(written["user"], "createdAt")
    granted_at = _at(written["admin"], "grantedAt")
    supabase_id = str(uuid.uuid4())
    # The rows these entities would have been in Supabase.
    legacy_category = rows.Category(
        category.id, category.slug, category.name, category.description, category.sort_order,
        category.created_at, category.updated_at,
    )  # fmt: skip
    legacy_listing = rows.Listing(
        listing.id, listing.slug, listing.title, listing.summary, listing.description,
        category.id, listing.location, listing.remote, tuple(listing.skills), 10, 90, "GBP",
        "week", listing.url, None, listing.created_at, listing.updated_at,
    )  # fmt: skip
    profile = rows.Profile(supabase_id, "same@example.test", "Same", True, profile_at, granted_at)
    favourite = rows.Favorite(supabase_id, listing.id, _at(written["favourite"], "savedAt"))
    items, report = transform_all(
        UserMap({supabase_id: sub}), auth_users=[], profiles=[profile],
        categories=[legacy_category], listings=[legacy_listing], favorites=[favourite],
    )  # fmt: skip
    assert not report.rejected_count
    migrated = {(i[keys.PK]["S"], i[keys.SK]["S"]): i for i in items}
    assert len(migrated) == len(written) == 9
    for name, item in written.items():
        assert item is not None
        got = dict(migrated[(item[keys.PK]["S"], item[keys.SK]["S"])])
        for attribute in PROVENANCE:
            got.pop(attribute, None)
        assert got == item, name
    user = migrated[(f"USER#{sub}", f"METADATA#{sub}")]
    assert user["supabaseId"] == {"S": supabase_id}
