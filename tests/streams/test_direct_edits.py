"""Changes written to the table directly, as a console user or a migration would, reach the
public reads through the stream consumer: cached reads change within STALE_BOUND_S.

The bound: one poll interval (0.1 s here, 0.25 s by default), moto's GetRecords, one cache
invalidation through Redis, the next read's load. Measured here 0.10-0.15 s from the last edit on a
loaded machine; 5 s leaves room for a slow moment without hiding a consumer that is not
running (the control test shows such a read stays stale for the fresh TTL, 300 s).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from aiohttp.test_utils import TestClient
from types_aiobotocore_dynamodb import DynamoDBClient

from service.app import create_app
from service.config import Settings
from service.runtime.appkeys import LEDGER, METRICS, STORES, STREAM_CONSUMER
from service.store import keys
from tests.api.factories import create_category, create_listing
from tests.support.app import AiohttpClient
from tests.support.tokens import TokenMint

Client = TestClient[Any, Any]
STALE_BOUND_S = 5.0
_POLL_S = 0.05
# A hit from either layer shows the entry was not invalidated: invalidation removes the memory
# entry and moves the Redis generation, so either would have been a miss. Which layer answers
# is not the point: a stalled event loop lets the 50 ms lease lapse between two reads, and the
# read then goes to Redis (cache.lease).
HIT = frozenset({"memory", "redis"})


async def body(client: Client, path: str) -> tuple[dict[str, Any], str]:
    response = await client.get(path)
    assert response.status == 200, path
    return await response.json(), response.headers["X-Cache"]


def records_applied(client: Client) -> float:
    registry = client.app[METRICS].registry
    return sum(
        registry.get_sample_value("hustlehub_stream_records_total", {"event": e, "effect": f})
        or 0.0
        for e in ("INSERT", "MODIFY", "REMOVE")
        for f in ("invalidated", "none")
    )


async def settled(client: Client, *, quiet_s: float = 0.6, within: float = 15.0) -> None:
    """Until the consumer has applied no record for `quiet_s`: the API's own writes above are
    on the stream too, and their (harmless, second) invalidations must land before a read
    can stay cached."""
    started = time.monotonic()
    seen = records_applied(client)
    while time.monotonic() - started < within:
        await asyncio.sleep(quiet_s)
        now = records_applied(client)
        if now == seen:
            return
        seen = now
    raise AssertionError("the stream consumer never went quiet")


async def cached(client: Client, path: str) -> dict[str, Any]:
    """Read twice: the second answer must come from the cache."""
    await body(client, path)
    found, layer = await body(client, path)
    assert layer in HIT, path
    return found


async def until(
    read: Callable[[], Awaitable[dict[str, Any]]],
    done: Callable[[dict[str, Any]], bool],
    *,
    since: float,
    within: float = STALE_BOUND_S,
) -> float:
    """Seconds from `since` (monotonic) until `done(await read())` holds; fails past `within`
    (bounded in count too)."""
    started = since
    for _ in range(int(within / _POLL_S) + 1):
        if done(await read()):
            return time.monotonic() - started
        if time.monotonic() - started > within:
            break
        await asyncio.sleep(_POLL_S)
    raise AssertionError(f"the read did not change within {within} s")


async def copy_row(console: DynamoDBClient, table: str, category_id: str) -> dict[str, Any]:
    """The category listing row a console user finds in the category's partition."""
    found = await console.query(
        TableName=table,
        KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
        ExpressionAttributeValues={
            ":pk": {"S": keys.listings_of(category_id)},
            ":prefix": {"S": keys.LISTING_PREFIX},
        },
        ConsistentRead=True,
    )
    (row,) = found["Items"]
    return dict(row)


async def retitle(console: DynamoDBClient, table: str, key: Any, title: str) -> None:
    await console.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET title = :title",
        ExpressionAttributeValues={":title": {"S": title}},
    )


async def test_direct_edits_reach_cached_listing_and_page_reads_within_the_bound(
    client: Client, admin_token: str, console: DynamoDBClient, settings: Settings
) -> None:
    assert client.app[STREAM_CONSUMER].shards, "the consumer reads no shard"
    table = settings.table_name
    category = await create_category(client, admin_token)
    listing = await create_listing(client, admin_token, category["id"])
    listing_paths = [f"/v1/listings/{listing['id']}", f"/v1/listings/{listing['slug']}"]
    page_paths = [f"/v1/categories/{ref}/listings" for ref in (category["id"], category["slug"])]
    await settled(client)
    for path in (*listing_paths, *page_paths):
        found = await cached(client, path)
        assert "Dog walking" in str(found)

    # A console user edits the listing and its row in the category, then adds a row.
    await retitle(console, table, keys.listing(listing["id"]), "Edited by hand")
    row = await copy_row(console, table, category["id"])
    await retitle(console, table, {"PK": row["PK"], "SK": row["SK"]}, "Edited by hand")
    added_id = "01JZZZZZZZZZZZZZZZZZZZZZZZ"
    added = {
        **row,
        **keys.category_listing(category["id"], datetime.now(UTC), added_id),
        "id": {"S": added_id},
        "slug": {"S": f"added-{added_id.lower()}"},
        "title": {"S": "Added by hand"},
    }
    await console.put_item(TableName=table, Item=added)
    edited = time.monotonic()

    def retitled(found: dict[str, Any]) -> bool:
        return bool(found["title"] == "Edited by hand")

    def with_added_row(found: dict[str, Any]) -> bool:
        return [i["title"] for i in found["items"]] == ["Added by hand", "Edited by hand"]

    waited: dict[str, float] = {}
    for path, done in [
        *((p, retitled) for p in listing_paths),
        *((p, with_added_row) for p in page_paths),
    ]:
        waited[path] = await until(partial(body_only, client, path), done, since=edited)
    print("seconds from the last direct edit until each read changed:", waited)
    assert max(waited.values()) < STALE_BOUND_S
    registry = client.app[METRICS].registry
    assert (registry.get_sample_value("hustlehub_stream_invalidations_total") or 0) >= 1


async def test_without_the_consumer_a_direct_edit_stays_hidden_by_the_cache(
    aiohttp_client: AiohttpClient, settings: Settings, mint: TokenMint, console: DynamoDBClient
) -> None:
    # The control: the same edit with stream invalidation off is not seen while the entry
    # lives. (No `client` fixture here: its consumer would invalidate this app through Redis.)
    off = await aiohttp_client(
        create_app(settings.model_copy(update={"stream_invalidation": False}))
    )
    assert STREAM_CONSUMER not in off.app
    assert LEDGER not in off.app  # nobody reads the stream: no changes to note
    sub = f"admin-{uuid.uuid4()}"
    await off.app[STORES].users.grant_admin(sub, actor="test-setup")
    admin_token = mint.token(sub)
    category = await create_category(off, admin_token)
    listing = await create_listing(off, admin_token, category["id"])
    path = f"/v1/listings/{listing['slug']}"
    await cached(off, path)
    await retitle(console, settings.table_name, keys.listing(listing["id"]), "Edited by hand")
    await asyncio.sleep(2.0)  # several times what the consumer needs (see the test above)
    found, layer = await body(off, path)
    assert found["title"] == "Dog walking"
    assert layer in HIT


async def body_only(client: Client, path: str) -> dict[str, Any]:
    return (await body(client, path))[0]
