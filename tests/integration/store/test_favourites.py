from __future__ import annotations

import pytest

from service.errors import BadInput, NotFound
from service.models.listing import ListingPatch
from service.store.stores import Stores
from tests.integration.store.support import category_data, listing_data, unique

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_save_is_new_then_not_and_unknown_listing_is_not_found(stores: Stores) -> None:
    category = await stores.categories.create(category_data(), actor="a")
    listing = await stores.listings.create(listing_data(category.id), actor="a")
    sub = unique("sub")
    assert await stores.favourites.save(sub, listing.id) is True
    assert await stores.favourites.save(sub, listing.id) is False
    with pytest.raises(NotFound):
        await stores.favourites.save(sub, unique("nope"))
    favourite = await stores.favourites.get(sub, listing.id)
    assert (favourite.listing_id, favourite.listing.slug) == (listing.id, listing.slug)


async def test_unsave_is_idempotent(stores: Stores) -> None:
    category = await stores.categories.create(category_data(), actor="a")
    listing = await stores.listings.create(listing_data(category.id), actor="a")
    sub = unique("sub")
    await stores.favourites.save(sub, listing.id)
    await stores.favourites.unsave(sub, listing.id)
    await stores.favourites.unsave(sub, listing.id)
    with pytest.raises(NotFound):
        await stores.favourites.get(sub, listing.id)
    assert await stores.favourites.save(sub, listing.id) is True


async def test_list_pages_with_current_summaries(stores: Stores) -> None:
    category = await stores.categories.create(category_data(), actor="a")
    listings = [
        await stores.listings.create(listing_data(category.id), actor="a") for _ in range(5)
    ]
    sub = unique("sub")
    for listing in listings:
        await stores.favourites.save(sub, listing.id)
    await stores.listings.update(
        listings[0].id, ListingPatch(title="Renamed"), expected_version=1, actor="a"
    )
    await stores.listings.delete(listings[1].id, actor="a")

    seen = []
    cursor = None
    for _ in range(10):
        page = await stores.favourites.list(sub, limit=2, cursor=cursor)
        seen.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    by_id = {favourite.listing_id: favourite for favourite in seen}
    assert set(by_id) == {listing.id for listing in listings} - {listings[1].id}
    assert by_id[listings[0].id].listing.title == "Renamed"

    other = unique("sub")
    await stores.favourites.save(other, listings[2].id)
    await stores.favourites.save(other, listings[3].id)
    foreign = (await stores.favourites.list(other, limit=1, cursor=None)).next_cursor
    assert foreign is not None
    with pytest.raises(BadInput):
        await stores.favourites.list(sub, limit=2, cursor=foreign)
