"""The base-table copies public pages read (CATEGORIES entries, category listings): fresh after
every kind of write, read with ConsistentRead, and kept right when a write interleaves."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from types_aiobotocore_dynamodb import DynamoDBClient

from service.models.category import Category, CategoryPatch
from service.models.listing import Listing, ListingPatch
from service.store.stores import Stores
from tests.integration.store.support import category_data, listing_data, unique

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def entries(stores: Stores, *categories: Category) -> list[Category]:
    """Our categories' entries as list_all returns them (the table is shared with other tests)."""
    ids = {category.id for category in categories}
    return [entry for entry in await stores.categories.list_all() if entry.id in ids]


async def entry(stores: Stores, category: Category) -> Category:
    (found,) = await entries(stores, category)
    assert found == await stores.categories.get(category.id, consistent=True)
    return found


async def page(stores: Stores, category: Category) -> list[Listing]:
    listings = await stores.listings.list_by_category(category.id, limit=100, cursor=None)
    for copy in listings.items:
        assert copy == await stores.listings.get(copy.id, consistent=True)
    return listings.items


def once_before_commit(client: DynamoDBClient, action: Callable[[], Awaitable[object]]) -> None:
    """Run `action` (through another client) just before this client's next transaction."""
    pending = [action]

    async def interleave(**_: Any) -> None:
        if pending:
            await pending.pop()()

    # aiobotocore awaits coroutine handlers; the botocore-derived stubs only know sync ones.
    client.meta.events.register("before-call.dynamodb.TransactWriteItems", interleave)  # type: ignore[arg-type]


async def test_category_entries_follow_create_update_and_delete(stores: Stores) -> None:
    first = await stores.categories.create(category_data(name="B", sort=800_002), actor="a")
    second = await stores.categories.create(category_data(name="A", sort=800_003), actor="a")
    assert [c.id for c in await entries(stores, first, second)] == [first.id, second.id]
    assert (await entry(stores, first)).listing_count == 0

    new_slug = unique("renamed")
    _, renamed = await stores.categories.update(
        second.id,
        CategoryPatch(name="Z", slug=new_slug, sort_order=800_001),
        expected_version=1,
        actor="a",
    )
    assert await entries(stores, first, second) == [renamed, await entry(stores, first)]
    assert (renamed.name, renamed.slug, renamed.version) == ("Z", new_slug, 2)

    await stores.categories.delete(first.id, actor="a")
    assert await entries(stores, first, second) == [renamed]


async def test_listing_pages_and_counts_follow_every_listing_write(stores: Stores) -> None:
    source = await stores.categories.create(category_data(name="Source"), actor="a")
    target = await stores.categories.create(category_data(name="Target"), actor="a")
    older = await stores.listings.create(listing_data(source.id), actor="a")
    newer = await stores.listings.create(listing_data(source.id), actor="a")
    assert await page(stores, source) == [newer, older]
    assert (await entry(stores, source)).listing_count == 2

    new_slug = unique("edited")
    _, edited = await stores.listings.update(
        older.id, ListingPatch(title="Edited", slug=new_slug, url=None), expected_version=1,
        actor="a",
    )  # fmt: skip
    assert await page(stores, source) == [newer, edited]
    assert (edited.title, edited.slug, edited.url) == ("Edited", new_slug, None)

    _, moved = await stores.listings.update(
        older.id, ListingPatch(category_id=target.id), expected_version=2, actor="a"
    )
    assert await page(stores, source) == [newer]
    assert await page(stores, target) == [moved]
    assert moved.category_name == "Target"
    counts = [c.listing_count for c in (await entry(stores, source), await entry(stores, target))]
    assert counts == [1, 1]

    await stores.listings.delete(newer.id, actor="a")
    assert await page(stores, source) == []
    assert (await entry(stores, source)).listing_count == 0


async def test_rename_reaches_the_copies_and_a_sort_change_keeps_the_count(
    stores: Stores,
) -> None:
    category = await stores.categories.create(category_data(name="Old", sort=5), actor="a")
    for _ in range(3):
        await stores.listings.create(listing_data(category.id), actor="a")
    new_slug = unique("new")
    _, after = await stores.categories.update(
        category.id,
        CategoryPatch(name="New", slug=new_slug, sort_order=6),
        expected_version=1,
        actor="a",
    )
    listed = await page(stores, category)
    assert {(copy.category_name, copy.category_slug) for copy in listed} == {("New", new_slug)}
    assert (await entry(stores, category)).listing_count == 3
    # The next count change lands on the entry under its new key.
    await stores.listings.create(listing_data(category.id), actor="a")
    assert (await entry(stores, category)).listing_count == 4
    assert (await entry(stores, category)).sort_order == after.sort_order == 6


async def test_a_listing_written_while_the_sort_order_moves_is_counted(
    gated_stores: Stores, private_client: DynamoDBClient, stores: Stores
) -> None:
    category = await stores.categories.create(category_data(sort=10), actor="a")
    # Between the update's read and its commit, a listing joins: the old entry's count moves,
    # the update must read again rather than carry the old count to the new entry.
    once_before_commit(
        private_client, lambda: stores.listings.create(listing_data(category.id), actor="a")
    )
    await gated_stores.categories.update(
        category.id, CategoryPatch(sort_order=11), expected_version=1, actor="a"
    )
    current = await entry(stores, category)
    assert (current.sort_order, current.listing_count) == (11, 1)


async def test_a_listing_edit_racing_a_rename_keeps_the_new_name_on_its_copy(
    gated_stores: Stores, private_client: DynamoDBClient, stores: Stores
) -> None:
    category = await stores.categories.create(category_data(name="Old"), actor="a")
    listing = await stores.listings.create(listing_data(category.id), actor="a")
    once_before_commit(
        private_client,
        lambda: stores.categories.update(
            category.id, CategoryPatch(name="New"), expected_version=1, actor="a"
        ),
    )
    await gated_stores.listings.update(
        listing.id, ListingPatch(title="Edited"), expected_version=1, actor="a"
    )
    (copy,) = await page(stores, category)
    assert (copy.title, copy.category_name) == ("Edited", "New")


async def test_reads_the_loaders_use_are_strongly_consistent_on_the_base_table(
    gated_stores: Stores, private_client: DynamoDBClient
) -> None:
    stores = gated_stores
    category = await stores.categories.create(category_data(), actor="a")
    for _ in range(3):
        await stores.listings.create(listing_data(category.id), actor="a")
    calls: list[tuple[str, dict[str, Any]]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append((model.name, dict(params)))

    private_client.meta.events.register("provide-client-params.dynamodb.*", record)
    await stores.categories.get(category.id, consistent=True)
    await stores.categories.get_by_slug(category.slug, consistent=True)
    await stores.categories.list_all()
    first = await stores.listings.list_by_category(category.id, limit=2, cursor=None)
    await stores.listings.list_by_category(category.id, limit=2, cursor=first.next_cursor)
    listing = first.items[0]
    await stores.listings.get(listing.id, consistent=True)
    await stores.listings.get_by_slug(listing.slug, consistent=True)

    operations = [name for name, _ in calls]
    # get 1, get_by_slug 2, list_all >= 1, two pages >= 1 each, get 1, get_by_slug 2.
    assert operations.count("GetItem") == 6
    assert operations.count("Query") >= 3
    assert set(operations) == {"GetItem", "Query"}
    for name, params in calls:
        assert params.get("ConsistentRead") is True, (name, params)
        assert "IndexName" not in params, (name, params)
