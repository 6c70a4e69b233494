from __future__ import annotations

import asyncio

import pytest
from types_aiobotocore_dynamodb import DynamoDBClient

from service.errors import BadInput, Conflict, InvalidFields, NotFound, VersionMismatch
from service.models.listing import ListingPatch
from service.store.stores import Stores
from tests.integration.store.support import CommitGate, category_data, listing_data, unique

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_create_get_update_delete(stores: Stores) -> None:
    category = await stores.categories.create(category_data(name="Pets"), actor="a")
    created = await stores.listings.create(listing_data(category.id), actor="a")
    assert (created.category_slug, created.category_name) == (category.slug, "Pets")
    assert await stores.listings.get(created.id) == created
    assert await stores.listings.get_by_slug(created.slug) == created

    before, after = await stores.listings.update(
        created.id,
        ListingPatch(title="Dog walking", url=None, skills=["dogs"]),
        expected_version=1,
        actor="a",
    )
    assert before == created
    assert (after.title, after.url, after.skills, after.version) == (
        "Dog walking",
        None,
        ["dogs"],
        2,
    )
    assert await stores.listings.get(created.id, consistent=True) == after

    with pytest.raises(VersionMismatch):
        await stores.listings.update(
            created.id, ListingPatch(title="x"), expected_version=1, actor="a"
        )
    deleted = await stores.listings.delete(created.id, actor="a")
    assert deleted == after
    with pytest.raises(NotFound):
        await stores.listings.get(created.id, consistent=True)
    with pytest.raises(NotFound):
        await stores.listings.get_by_slug(created.slug)
    with pytest.raises(NotFound):
        await stores.listings.delete(created.id, actor="a")
    assert (await stores.categories.get(category.id, consistent=True)).listing_count == 0


async def test_unknown_category_is_invalid_fields(stores: Stores) -> None:
    with pytest.raises(InvalidFields) as caught:
        await stores.listings.create(listing_data(unique("nope")), actor="a")
    assert caught.value.errors[0].loc == ("categoryId",)


async def test_taken_slug_is_a_conflict_and_the_count_is_unchanged(stores: Stores) -> None:
    category = await stores.categories.create(category_data(), actor="a")
    first = await stores.listings.create(listing_data(category.id), actor="a")
    with pytest.raises(Conflict):
        await stores.listings.create(listing_data(category.id, slug=first.slug), actor="a")
    assert (await stores.categories.get(category.id, consistent=True)).listing_count == 1


async def test_pages_newest_first_with_cursors(stores: Stores) -> None:
    category = await stores.categories.create(category_data(), actor="a")
    made = [await stores.listings.create(listing_data(category.id), actor="a") for _ in range(7)]
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = await stores.listings.list_by_category(category.id, limit=3, cursor=cursor)
        assert len(page.items) <= 3
        seen.extend(item.id for item in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [listing.id for listing in reversed(made)]


async def test_a_chunk_of_a_category_starts_right_after_a_sort_key(stores: Stores) -> None:
    from service.catalog.category_rows import sort_key

    category = await stores.categories.create(category_data(), actor="a")
    made = [await stores.listings.create(listing_data(category.id), actor="a") for _ in range(6)]
    newest_first = list(reversed(made))
    chunk = await stores.listings.chunk_in_category(category.id, older_than=None, limit=2)
    # One more than asked for: it tells the caller more follow.
    assert [x.id for x in chunk] == [x.id for x in newest_first[:3]]
    after = await stores.listings.chunk_in_category(
        category.id, older_than=sort_key(newest_first[1]), limit=10
    )
    assert [x.id for x in after] == [x.id for x in newest_first[2:]]
    # A position, not a row: after a row since deleted, exactly the older ones.
    await stores.listings.delete(newest_first[2].id, actor="a")
    gone = await stores.listings.chunk_in_category(
        category.id, older_than=sort_key(newest_first[2]), limit=10
    )
    assert [x.id for x in gone] == [x.id for x in newest_first[3:]]
    empty = await stores.categories.create(category_data(), actor="a")
    assert await stores.listings.chunk_in_category(empty.id, older_than=None, limit=5) == []


async def test_a_page_ending_on_the_last_item_has_no_cursor(stores: Stores) -> None:
    category = await stores.categories.create(category_data(), actor="a")
    for _ in range(2):
        await stores.listings.create(listing_data(category.id), actor="a")
    page = await stores.listings.list_by_category(category.id, limit=2, cursor=None)
    assert (len(page.items), page.next_cursor) == (2, None)


async def test_tampered_and_foreign_cursors_are_bad_input(stores: Stores) -> None:
    first = await stores.categories.create(category_data(), actor="a")
    other = await stores.categories.create(category_data(), actor="a")
    for category in (first, other):
        for _ in range(2):
            await stores.listings.create(listing_data(category.id), actor="a")
    page = await stores.listings.list_by_category(first.id, limit=1, cursor=None)
    assert page.next_cursor is not None
    body, mac = page.next_cursor.split(".")
    tampered = f"{body[:-2]}{'A' if body[-2] != 'A' else 'B'}{body[-1]}.{mac}"
    for bad in (tampered, page.next_cursor + "x", "garbage", "a.b.c", "x" * 5000):
        with pytest.raises(BadInput):
            await stores.listings.list_by_category(first.id, limit=1, cursor=bad)
    with pytest.raises(BadInput):
        await stores.listings.list_by_category(other.id, limit=1, cursor=page.next_cursor)


async def test_moving_a_listing_adjusts_both_counts_and_pages(stores: Stores) -> None:
    source = await stores.categories.create(category_data(name="Source"), actor="a")
    target = await stores.categories.create(category_data(name="Target"), actor="a")
    listing = await stores.listings.create(listing_data(source.id), actor="a")
    _, moved = await stores.listings.update(
        listing.id, ListingPatch(category_id=target.id), expected_version=1, actor="a"
    )
    assert (moved.category_id, moved.category_name) == (target.id, "Target")
    assert (await stores.categories.get(source.id, consistent=True)).listing_count == 0
    assert (await stores.categories.get(target.id, consistent=True)).listing_count == 1
    source_page = await stores.listings.list_by_category(source.id, limit=10, cursor=None)
    target_page = await stores.listings.list_by_category(target.id, limit=10, cursor=None)
    assert source_page.items == []
    assert [item.id for item in target_page.items] == [listing.id]


async def test_moving_to_an_unknown_category_changes_nothing(stores: Stores) -> None:
    category = await stores.categories.create(category_data(), actor="a")
    listing = await stores.listings.create(listing_data(category.id), actor="a")
    with pytest.raises(InvalidFields):
        await stores.listings.update(
            listing.id, ListingPatch(category_id=unique("nope")), expected_version=1, actor="a"
        )
    assert await stores.listings.get(listing.id, consistent=True) == listing


async def test_concurrent_updates_lose_nothing(
    gated_stores: Stores, private_client: DynamoDBClient
) -> None:
    stores = gated_stores
    category = await stores.categories.create(category_data(), actor="a")
    listing = await stores.listings.create(listing_data(category.id), actor="a")
    CommitGate(3).install(private_client)
    results = await asyncio.gather(
        *(
            stores.listings.update(
                listing.id, ListingPatch(title=f"T{i}"), expected_version=1, actor="a"
            )
            for i in range(3)
        ),
        return_exceptions=True,
    )
    winners = [r for r in results if isinstance(r, tuple)]
    assert len(winners) == 1
    assert sum(isinstance(r, VersionMismatch) for r in results) == 2
    assert (await stores.listings.get(listing.id, consistent=True)).title == winners[0][1].title


async def test_delete_removes_its_favourites(stores: Stores) -> None:
    category = await stores.categories.create(category_data(), actor="a")
    listing = await stores.listings.create(listing_data(category.id), actor="a")
    fans = [unique("user") for _ in range(30)]  # more than one BatchWriteItem chunk
    for sub in fans:
        assert await stores.favourites.save(sub, listing.id)
    await stores.listings.delete(listing.id, actor="a")
    for sub in fans[:3]:
        with pytest.raises(NotFound):
            await stores.favourites.get(sub, listing.id)
    response = await stores.table.call(
        "Query",
        IndexName="GSI1",
        KeyConditionExpression="GSI1PK = :pk",
        ExpressionAttributeValues={":pk": {"S": f"LISTING#{listing.id}"}},
    )
    assert response["Items"] == []
