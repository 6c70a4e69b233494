"""A write whose item would pass DynamoDB's 400 KB limit is answered 413 with a problem before
it reaches DynamoDB, and counted (hustlehub_dynamodb_requests_total, outcome refused)."""

from __future__ import annotations

import random
import string
from typing import Any

from aiohttp.test_utils import TestClient

from service.runtime.appkeys import METRICS, TABLE
from service.store import keys
from service.store.codec import ITEM_LIMIT_BYTES
from tests.api.factories import create_category, create_listing
from tests.support.app import bearer


def refused(client: TestClient[Any, Any]) -> float:
    labels = {"operation": "TransactWriteItems", "outcome": "refused"}
    value = client.app[METRICS].registry.get_sample_value(
        "hustlehub_dynamodb_requests_total", labels
    )
    return value or 0.0


async def test_a_patch_that_would_take_a_listing_past_the_item_limit_is_413(
    client: TestClient[Any, Any], admin_token: str
) -> None:
    category = await create_category(client, admin_token)
    listing = await create_listing(client, admin_token, category["id"])
    rng = random.Random(413)
    # What a newer release keeps on the item (or a console user put there): ~394 KB.
    table = client.app[TABLE]
    await table.client.update_item(
        TableName=table.name,
        Key=keys.listing(listing["id"]),
        UpdateExpression="SET gallery = :g",
        ExpressionAttributeValues={
            ":g": {"S": "".join(rng.choices(string.ascii_letters, k=ITEM_LIMIT_BYTES - 6000))}
        },
    )
    before = refused(client)
    description = "".join(rng.choices(string.ascii_letters + string.digits, k=10_000))
    response = await client.patch(
        f"/v1/admin/listings/{listing['id']}",
        json={"description": description},
        headers={**bearer(admin_token), "If-Match": '"v1"'},
    )
    assert response.status == 413, await response.text()
    assert response.content_type == "application/problem+json"
    problem = await response.json()
    assert problem["status"] == 413
    assert "item limit" in problem["detail"]
    assert refused(client) == before + 1
    # Nothing was written: the listing is still at version 1.
    assert (await (await client.get(f"/v1/listings/{listing['id']}")).json())["version"] == 1
