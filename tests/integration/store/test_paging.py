"""Real DynamoDB may answer a Query with no items and a LastEvaluatedKey (the 1 MB limit, a
filter); moto never does, so such pages are injected with a botocore before-call hook."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from types_aiobotocore_dynamodb import DynamoDBClient

from service.store.stores import Stores
from tests.integration.store.support import category_data, listing_data

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_empty_pages_with_a_key_are_followed(
    gated_stores: Stores, private_client: DynamoDBClient
) -> None:
    stores = gated_stores
    category = await stores.categories.create(category_data(), actor="a")
    made = [await stores.listings.create(listing_data(category.id), actor="a") for _ in range(5)]
    first = await stores.listings.list_by_category(category.id, limit=2, cursor=None)
    injected = [0]

    def empty_page(params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]] | None:
        start = json.loads(params["body"]).get("ExclusiveStartKey")
        if start is None or injected[0] >= 3:
            return None
        injected[0] += 1
        # "Nothing here yet, carry on from where you started": what DynamoDB may say.
        parsed = {"Items": [], "Count": 0, "ScannedCount": 0, "LastEvaluatedKey": start}
        return SimpleNamespace(status_code=200, headers={}), parsed

    # The stubs type handlers as returning None; a before-call handler may return a response.
    handler: Any = empty_page
    private_client.meta.events.register("before-call.dynamodb.Query", handler)
    second = await stores.listings.list_by_category(category.id, limit=2, cursor=first.next_cursor)
    assert injected[0] == 3
    newest_first = [listing.id for listing in reversed(made)]
    assert [item.id for item in first.items + second.items] == newest_first[:4]
    assert second.next_cursor is not None
