"""Item schema versions: every item carries one; long descriptions are stored packed from
version 2; an old and a new release side by side lose nothing (docs/table.md)."""

from __future__ import annotations

from typing import Any

import pytest
from types_aiobotocore_dynamodb import DynamoDBClient

from service.config import Settings
from service.models.category import CategoryPatch
from service.models.listing import Listing, ListingPatch
from service.store import keys, versions
from service.store.codec import item_size, load
from service.store.copies import listing_copy_key
from service.store.rules import ItemRules
from service.store.stores import Stores, build_stores, cursor_codec
from service.store.table import Table
from tests.integration.store.oldrelease import old_entity_item, old_load, old_update
from tests.integration.store.support import category_data, listing_data, unique

pytestmark = pytest.mark.asyncio(loop_scope="session")

# Realistic in shape: sentences of a listing's description, about 2.9 KB.
LONG = (
    "Walk two friendly dogs around Roundhay Park every weekday morning, rain or shine. "
    "You will need a good pair of boots, an hour between seven and nine, and patience "
    "with a spaniel who believes every squirrel is a personal enemy. "
) * 12


async def raw(dynamodb: DynamoDBClient, table: str, key: keys.Key) -> dict[str, Any]:
    found = await dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)
    return dict(found["Item"])


def writing(table: Table, settings: Settings, version: int) -> Stores:
    return build_stores(table, cursor_codec(settings), rules=ItemRules(write_version=version))


async def test_every_item_a_write_makes_carries_the_current_version(
    stores: Stores, dynamodb: DynamoDBClient, store_settings: Settings
) -> None:
    category = await stores.categories.create(category_data(), actor="a")
    listing = await stores.listings.create(listing_data(category.id), actor="a")
    name = store_settings.table_name
    for key in (
        keys.category(category.id),
        keys.category_entry(0, category.id),
        keys.slug("CATEGORY", category.slug),
        keys.listing(listing.id),
        listing_copy_key(listing),
        keys.slug("LISTING", listing.slug),
    ):
        assert versions.version_of(await raw(dynamodb, name, key)) == versions.CURRENT, key
    await stores.users.create_profile("sub-versions", email="", display_name="")
    await stores.users.grant_admin("sub-versions", actor="a")
    await stores.favourites.save("sub-versions", listing.id)
    for key in (
        keys.user("sub-versions"),
        keys.admin("sub-versions"),
        keys.favourite("sub-versions", listing.id),
    ):
        assert versions.version_of(await raw(dynamodb, name, key)) == versions.CURRENT, key


async def test_a_long_description_is_stored_packed_and_read_back_as_written(
    stores: Stores, dynamodb: DynamoDBClient, store_settings: Settings
) -> None:
    category = await stores.categories.create(category_data(), actor="a")
    data = listing_data(category.id).model_copy(update={"description": LONG})
    listing = await stores.listings.create(data, actor="a")
    for key in (keys.listing(listing.id), listing_copy_key(listing)):
        item = await raw(dynamodb, store_settings.table_name, key)
        assert set(item["description"]) == {"B"}, key
        plain = {**item, "description": {"S": LONG}}
        assert item_size(item) < item_size(plain) / 2
    assert (await stores.listings.get(listing.id, consistent=True)).description == LONG
    page = await stores.listings.list_by_category(category.id, limit=10, cursor=None)
    assert [found.description for found in page.items] == [LONG]
    # A short one stays a string.
    short = await stores.listings.create(listing_data(category.id), actor="a")
    item = await raw(dynamodb, store_settings.table_name, keys.listing(short.id))
    assert set(item["description"]) == {"S"}


async def test_an_old_writer_and_a_new_reader_lose_nothing(
    stores: Stores, table: Table, dynamodb: DynamoDBClient, store_settings: Settings
) -> None:
    name = store_settings.table_name
    category = await stores.categories.create(category_data(), actor="a")
    new = await stores.listings.create(listing_data(category.id), actor="a")
    # The old release wrote this listing (no version, a long plain description, and an
    # attribute of a release newer than both, which every writer must keep).
    old = new.model_copy(update={"id": "01JOLDRELEASE0000000000000", "description": LONG})
    item = old_entity_item(old, "Listing", keys.listing(old.id), categoryVersion=1)
    await dynamodb.put_item(TableName=name, Item={**item, "badge": {"S": "verified"}})
    copy = old_entity_item(old, "CategoryListing", listing_copy_key(old), categoryVersion=1)
    await dynamodb.put_item(TableName=name, Item=copy)
    assert "schemaVersion" not in item
    assert await stores.listings.get(old.id, consistent=True) == old  # upgraded on read

    # The old release edits a listing the new one wrote with a packed description: it SETs
    # the title (the packed text and the version stay) ...
    data = listing_data(category.id).model_copy(update={"description": LONG})
    packed = await stores.listings.create(data, actor="a")
    await dynamodb.update_item(
        TableName=name, **old_update(keys.listing(packed.id), {"title": "Retitled"})
    )
    read = await stores.listings.get(packed.id, consistent=True)
    assert (read.title, read.description) == ("Retitled", LONG)
    # ... and then the description, as a plain string over the binary: the new text wins.
    await dynamodb.update_item(
        TableName=name, **old_update(keys.listing(packed.id), {"description": "Shorter now"})
    )
    assert (await stores.listings.get(packed.id, consistent=True)).description == "Shorter now"

    # The new release updates the old item: current version, text packed, `badge` kept.
    await stores.listings.update(old.id, ListingPatch(title="New"), expected_version=1, actor="a")
    after = await raw(dynamodb, name, keys.listing(old.id))
    assert versions.version_of(after) == versions.CURRENT
    assert after["badge"] == {"S": "verified"}
    assert set(after["description"]) == {"B"}
    assert load(Listing, after).description == LONG


async def test_a_new_writer_and_an_old_reader_lose_nothing(
    table: Table, dynamodb: DynamoDBClient, store_settings: Settings
) -> None:
    # During a deploy the new release writes the previous version (the setting says so), so
    # that the old release still running reads everything it writes.
    name = store_settings.table_name
    deploying = writing(table, store_settings, versions.PREVIOUS)
    category = await deploying.categories.create(category_data(), actor="a")
    data = listing_data(category.id).model_copy(update={"description": LONG})
    listing = await deploying.listings.create(data, actor="a")
    for key in (keys.listing(listing.id), listing_copy_key(listing)):
        assert old_load(Listing, await raw(dynamodb, name, key)) == listing
    _, after = await deploying.listings.update(
        listing.id, ListingPatch(title="Edited in the deploy"), expected_version=1, actor="a"
    )
    assert old_load(Listing, await raw(dynamodb, name, keys.listing(listing.id))) == after

    # What the old release could not read: the same write in the current version.
    current = writing(table, store_settings, versions.CURRENT)
    packed = await current.listings.create(
        data.model_copy(update={"slug": unique("gig")}), actor="a"
    )
    with pytest.raises(TypeError, match="unsupported attribute type B"):
        old_load(Listing, await raw(dynamodb, name, keys.listing(packed.id)))


async def test_a_move_to_another_category_keeps_the_attributes_this_release_does_not_know(
    stores: Stores, dynamodb: DynamoDBClient, store_settings: Settings
) -> None:
    name = store_settings.table_name
    first = await stores.categories.create(category_data(), actor="a")
    second = await stores.categories.create(category_data(), actor="a")
    listing = await stores.listings.create(listing_data(first.id), actor="a")
    # A newer release added an attribute to the listing (and so to its copy).
    await dynamodb.update_item(
        TableName=name,
        Key=keys.listing(listing.id),
        UpdateExpression="SET badge = :b",
        ExpressionAttributeValues={":b": {"S": "verified"}},
    )
    _, moved = await stores.listings.update(
        listing.id, ListingPatch(category_id=second.id), expected_version=1, actor="a"
    )
    copy = await raw(dynamodb, name, listing_copy_key(moved))
    assert copy["badge"] == {"S": "verified"}

    # The same for a category whose entry moves to a new key with its sortOrder.
    await dynamodb.update_item(
        TableName=name,
        Key=keys.category(first.id),
        UpdateExpression="SET icon = :i",
        ExpressionAttributeValues={":i": {"S": "paw"}},
    )
    await stores.categories.update(
        first.id, CategoryPatch(sort_order=7), expected_version=first.version, actor="a"
    )
    entry = await raw(dynamodb, name, keys.category_entry(7, first.id))
    assert entry["icon"] == {"S": "paw"}
