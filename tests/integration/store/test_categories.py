from __future__ import annotations

import asyncio

import pytest
from types_aiobotocore_dynamodb import DynamoDBClient

from service.errors import Conflict, NotFound, VersionMismatch
from service.models.category import CategoryPatch
from service.store.stores import Stores
from tests.integration.store.support import CommitGate, category_data, listing_data, unique

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_create_get_by_id_and_slug(stores: Stores) -> None:
    created = await stores.categories.create(
        category_data(name="Tutoring", sort=3), actor="admin-1"
    )
    assert created.version == 1
    assert created.listing_count == 0
    assert await stores.categories.get(created.id) == created
    assert await stores.categories.get_by_slug(created.slug) == created


async def test_unknown_id_and_slug_are_not_found(stores: Stores) -> None:
    with pytest.raises(NotFound):
        await stores.categories.get(unique("missing"))
    with pytest.raises(NotFound):
        await stores.categories.get_by_slug(unique("missing"))


async def test_list_all_sorted_by_sort_order_then_name(stores: Stores) -> None:
    # Slugs deliberately disagree with names, so slug order in GSI1SK is not enough.
    made = [
        await stores.categories.create(
            category_data(slug=unique(slug), name=name, sort=sort), actor="a"
        )
        for slug, name, sort in [
            ("a", "Zebra", 900_001),
            ("b", "Apple", 900_001),
            ("c", "Mango", 900_000),
        ]
    ]
    ours = [c for c in await stores.categories.list_all() if c.id in {m.id for m in made}]
    assert [c.name for c in ours] == ["Mango", "Apple", "Zebra"]


async def test_concurrent_creates_with_one_slug_exactly_one_wins(
    gated_stores: Stores, private_client: DynamoDBClient
) -> None:
    stores = gated_stores
    CommitGate(4).install(private_client)
    slug = unique("race")
    results = await asyncio.gather(
        *(stores.categories.create(category_data(slug=slug), actor="a") for _ in range(4)),
        return_exceptions=True,
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(r, Conflict) for r in results if r not in winners)
    assert (await stores.categories.get_by_slug(slug)).id == winners[0].id


async def test_concurrent_updates_from_one_version_exactly_one_wins(
    gated_stores: Stores, private_client: DynamoDBClient
) -> None:
    stores = gated_stores
    created = await stores.categories.create(category_data(), actor="a")
    CommitGate(4).install(private_client)
    names = [f"Name {i}" for i in range(4)]
    results = await asyncio.gather(
        *(
            stores.categories.update(
                created.id, CategoryPatch(name=name), expected_version=1, actor="a"
            )
            for name in names
        ),
        return_exceptions=True,
    )
    winners = [r for r in results if isinstance(r, tuple)]
    assert len(winners) == 1
    assert all(isinstance(r, VersionMismatch) for r in results if not isinstance(r, tuple))
    current = await stores.categories.get(created.id, consistent=True)
    assert current.version == 2
    assert current.name == winners[0][1].name  # the winner's write is the one that stuck


async def test_update_changes_slug_and_frees_the_old_one(stores: Stores) -> None:
    created = await stores.categories.create(category_data(), actor="a")
    new_slug = unique("renamed")
    before, after = await stores.categories.update(
        created.id, CategoryPatch(slug=new_slug, sort_order=7), expected_version=1, actor="a"
    )
    assert (before.slug, after.slug, after.sort_order, after.version) == (
        created.slug,
        new_slug,
        7,
        2,
    )
    assert (await stores.categories.get_by_slug(new_slug)).id == created.id
    with pytest.raises(NotFound):
        await stores.categories.get_by_slug(created.slug)
    # The old slug is free for someone else now.
    await stores.categories.create(category_data(slug=created.slug), actor="a")


async def test_update_to_a_taken_slug_is_a_conflict_and_changes_nothing(stores: Stores) -> None:
    first = await stores.categories.create(category_data(), actor="a")
    second = await stores.categories.create(category_data(), actor="a")
    with pytest.raises(Conflict):
        await stores.categories.update(
            second.id, CategoryPatch(slug=first.slug), expected_version=1, actor="a"
        )
    assert (await stores.categories.get(second.id, consistent=True)).version == 1


async def test_update_of_a_deleted_category_is_not_found(stores: Stores) -> None:
    created = await stores.categories.create(category_data(), actor="a")
    await stores.categories.delete(created.id, actor="a")
    with pytest.raises(NotFound):
        await stores.categories.update(
            created.id, CategoryPatch(name="x"), expected_version=1, actor="a"
        )
    with pytest.raises(NotFound):
        await stores.categories.get_by_slug(created.slug)


async def test_delete_of_a_non_empty_category_is_refused(stores: Stores) -> None:
    category = await stores.categories.create(category_data(), actor="a")
    listing = await stores.listings.create(listing_data(category.id), actor="a")
    with pytest.raises(Conflict):
        await stores.categories.delete(category.id, actor="a")
    await stores.listings.delete(listing.id, actor="a")
    deleted = await stores.categories.delete(category.id, actor="a")
    assert deleted.id == category.id
    with pytest.raises(NotFound):
        await stores.categories.get(category.id, consistent=True)


async def test_rename_reaches_the_listings(stores: Stores) -> None:
    category = await stores.categories.create(category_data(name="Old"), actor="a")
    listings = [
        await stores.listings.create(listing_data(category.id), actor="a") for _ in range(3)
    ]
    new_slug = unique("new")
    await stores.categories.update(
        category.id, CategoryPatch(name="New", slug=new_slug), expected_version=1, actor="a"
    )
    for listing in listings:
        current = await stores.listings.get(listing.id, consistent=True)
        assert (current.category_name, current.category_slug) == ("New", new_slug)
        assert current.version == listing.version  # denormalised fields are not an edit
