"""With stream invalidation on, a change the API has already invalidated is not invalidated
again by the consumer (its records are counted `handled`), so the pages refilled after an
admin write stay cached; a change made outside the API still is invalidated. On moto's real
stream, with Redis (the ledger is shared through it)."""

from __future__ import annotations

import time
from typing import Any

from aiohttp.test_utils import TestClient
from types_aiobotocore_dynamodb import DynamoDBClient

from service.config import Settings
from service.runtime.appkeys import LEDGER, METRICS
from service.streams.ledger import RedisLedger
from tests.api.factories import create_category, create_listing
from tests.streams.test_direct_edits import HIT, body, cached, copy_row, retitle, settled, until
from tests.support.app import bearer

Client = TestClient[Any, Any]


def count(client: Client, name: str, **labels: str) -> float:
    return client.app[METRICS].registry.get_sample_value(name, labels) or 0.0


def handled(client: Client) -> float:
    return sum(
        count(client, "hustlehub_stream_records_total", event=e, effect="handled")
        for e in ("INSERT", "MODIFY", "REMOVE")
    )


async def test_the_apis_own_changes_are_invalidated_once_and_outside_ones_still_are(
    client: Client, admin_token: str, console: DynamoDBClient, settings: Settings
) -> None:
    assert isinstance(client.app[LEDGER], RedisLedger)
    category = await create_category(client, admin_token)
    listing = await create_listing(client, admin_token, category["id"])
    doomed = await create_listing(client, admin_token, category["id"])
    await settled(client, quiet_s=1.5)  # longer than the consumer's grace
    sent = count(client, "hustlehub_stream_invalidations_total")
    # The writes above: a category (item, entry, slug) and two listings (item, copy, slug,
    # the category's count and its entry's); audit events and the grant show in no read.
    assert handled(client) == 3 + 2 * 5

    page = f"/v1/categories/{category['slug']}/listings"
    listing_path = f"/v1/listings/{listing['slug']}"
    for path in (page, listing_path):
        await cached(client, path)
    before = handled(client)
    # Admin writes: an update and a delete (its REMOVE records too).
    response = await client.patch(
        f"/v1/admin/listings/{listing['id']}",
        json={"title": "Dog walking, weekends"},
        headers={**bearer(admin_token), "If-Match": '"v1"'},
    )
    assert response.status == 200, await response.text()
    response = await client.delete(
        f"/v1/admin/listings/{doomed['id']}", headers={**bearer(admin_token), "If-Match": '"v1"'}
    )
    assert response.status == 204, await response.text()
    # Refilled after the API's own invalidation...
    refilled = {path: await cached(client, path) for path in (page, listing_path)}
    etags = {path: (await client.get(path)).headers["ETag"] for path in refilled}
    await settled(client, quiet_s=1.5)  # longer than the consumer's grace
    # ... and not dropped again once the consumer has seen the same changes.
    assert count(client, "hustlehub_stream_invalidations_total") == sent
    assert handled(client) == before + 2 + 5  # item and copy; item, copy, slug, two counts
    for path in refilled:
        response = await client.get(path)
        assert response.headers["X-Cache"] in HIT, path
        assert response.headers["ETag"] == etags[path]
    assert [i["title"] for i in refilled[page]["items"]] == ["Dog walking, weekends"]

    # A console user edits the listing's row in the category: still invalidated, once.
    row = await copy_row(console, settings.table_name, category["id"])
    await retitle(console, settings.table_name, {"PK": row["PK"], "SK": row["SK"]}, "By hand")
    edited = time.monotonic()

    async def read_page() -> dict[str, Any]:
        return (await body(client, page))[0]

    await until(read_page, lambda found: found["items"][0]["title"] == "By hand", since=edited)
    assert count(client, "hustlehub_stream_invalidations_total") == sent + 1
