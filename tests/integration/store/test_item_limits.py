"""DynamoDB's 400 KB item limit: a write whose item would pass it is refused before it is
sent, counted, and answered 413; `item_size` counts what DynamoDB counts."""

from __future__ import annotations

import random
import string

import pytest
from types_aiobotocore_dynamodb import DynamoDBClient

from service.api.problems import from_service_error
from service.errors import ItemTooLarge
from service.models.listing import ListingPatch
from service.store import keys
from service.store.codec import ITEM_LIMIT_BYTES, item_size
from service.store.common import get_item
from service.store.stores import Stores
from service.store.table import Table
from service.store.txn import Transaction
from tests.integration.store.support import RecordingObserver, category_data, listing_data


def incompressible(size: int) -> str:
    rng = random.Random(24)
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(size))


def test_item_size_counts_names_and_values_as_dynamodb_does() -> None:
    # The Developer Guide's rules: names and strings in UTF-8 bytes, numbers by digits.
    assert item_size({"a": {"S": "héllo"}}) == 1 + 6
    assert item_size({"n": {"N": "12345"}}) == 1 + 4
    assert item_size({"b": {"B": b"\x00" * 10}, "t": {"BOOL": True}}) == 1 + 10 + 1 + 1
    assert item_size({"m": {"M": {"k": {"S": "v"}}}, "l": {"L": [{"S": "xy"}]}}) == (
        1 + 3 + (1 + 1 + 1) + 1 + 3 + (2 + 1)
    )


async def test_an_item_over_the_limit_is_refused_before_dynamodb_and_counted(
    table: Table, observer: RecordingObserver
) -> None:
    item = {**keys.listing("too-large"), "blob": {"S": incompressible(ITEM_LIMIT_BYTES)}}
    observer.finished.clear()
    with pytest.raises(ItemTooLarge) as refused:
        await table.call("PutItem", Item=item)
    assert refused.value.size > ITEM_LIMIT_BYTES
    assert observer.finished == [("PutItem", "refused", "ItemTooLarge")]  # nothing was sent
    txn = Transaction()
    txn.put(item)
    with pytest.raises(ItemTooLarge):
        await txn.commit(table)
    assert observer.finished[-1] == ("TransactWriteItems", "refused", "ItemTooLarge")
    assert await get_item(table, keys.listing("too-large"), consistent=True) is None


async def test_an_update_that_would_grow_an_item_past_the_limit_is_refused(
    stores: Stores, table: Table, dynamodb: DynamoDBClient, observer: RecordingObserver
) -> None:
    category = await stores.categories.create(category_data(), actor="a")
    listing = await stores.listings.create(listing_data(category.id), actor="a")
    # A newer release (or a console user) keeps ~394 KB of its own on the listing: a longer
    # description from this release would take the item past DynamoDB's limit.
    await dynamodb.update_item(
        TableName=table.name,
        Key=keys.listing(listing.id),
        UpdateExpression="SET gallery = :g",
        ExpressionAttributeValues={":g": {"S": incompressible(ITEM_LIMIT_BYTES - 6000)}},
    )
    observer.finished.clear()
    with pytest.raises(ItemTooLarge) as refused:
        await stores.listings.update(
            listing.id,
            ListingPatch(description=incompressible(10_000)),
            expected_version=1,
            actor="a",
        )
    assert "the listing would take" in str(refused.value)
    assert ("TransactWriteItems", "refused", "ItemTooLarge") in observer.finished
    assert [op for op, outcome, _ in observer.finished if outcome != "refused"] == ["GetItem"]
    assert (await stores.listings.get(listing.id, consistent=True)).version == 1


async def test_packing_keeps_the_largest_listing_the_api_accepts_far_below_the_limit(
    stores: Stores,
) -> None:
    category = await stores.categories.create(category_data(), actor="a")
    words = [
        "plant",
        "water",
        "weed",
        "harvest",
        "share",
        "soil",
        "compost",
        "seed",
        "shed",
        "tools",
    ]
    rng = random.Random(7)
    text = " ".join(rng.choice(words) for _ in range(4000))[:10_000]
    listing = await stores.listings.create(
        listing_data(category.id).model_copy(update={"description": text}), actor="a"
    )
    assert (await stores.listings.get(listing.id, consistent=True)).description == text
    assert keys.kind_of("LISTING#x", "METADATA#x") == "Listing"


def test_an_item_too_large_is_answered_413_with_a_problem() -> None:
    response = from_service_error(ItemTooLarge("listing", 512_000, ITEM_LIMIT_BYTES))
    assert response.status == 413
    assert response.content_type == "application/problem+json"
    assert b"512,000 bytes" in (response.body or b"")  # type: ignore[operator]
