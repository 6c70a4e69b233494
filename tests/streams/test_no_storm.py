"""Direct edits to items that no cached read shows (profiles, admin grants, favourites, audit
events) are applied by the consumer and invalidate nothing: the cached reads stay hits."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp.test_utils import TestClient
from types_aiobotocore_dynamodb import DynamoDBClient

from service.config import Settings
from service.models.user import UserProfile
from service.runtime.appkeys import METRICS
from service.store import keys
from service.store.favourites import favourite_item
from service.store.users import admin_item, profile_item
from tests.api.factories import create_category, create_listing
from tests.streams.test_direct_edits import HIT, body, cached, records_applied, settled

Client = TestClient[Any, Any]


def counted(client: Client, name: str, **labels: str) -> float:
    return client.app[METRICS].registry.get_sample_value(name, labels) or 0.0


async def test_edits_no_cached_read_shows_cause_no_invalidation(
    client: Client, admin_token: str, console: DynamoDBClient, settings: Settings
) -> None:
    table = settings.table_name
    category = await create_category(client, admin_token)
    listing = await create_listing(client, admin_token, category["id"])
    paths = [
        "/v1/categories",
        f"/v1/categories/{category['slug']}",
        f"/v1/categories/{category['slug']}/listings",
        f"/v1/listings/{listing['slug']}",
    ]
    await settled(client)
    etags = {}
    for path in paths:
        await cached(client, path)
        etags[path] = (await client.get(path)).headers["ETag"]
    invalidations = counted(client, "hustlehub_stream_invalidations_total")
    applied = records_applied(client)
    ignored = sum(
        counted(client, "hustlehub_stream_records_total", event=event, effect="none")
        for event in ("INSERT", "MODIFY", "REMOVE")
    )

    now = datetime.now(UTC)
    sub = f"console-{uuid.uuid4()}"
    edits: list[Any] = [
        console.put_item(
            TableName=table,
            Item=profile_item(UserProfile(sub=sub, email="c@example.com", created_at=now)),
        ),
        console.update_item(
            TableName=table,
            Key=keys.user(sub),
            UpdateExpression="SET displayName = :name",
            ExpressionAttributeValues={":name": {"S": "Edited by hand"}},
        ),
        console.put_item(TableName=table, Item=admin_item(sub, now, "console")),
        console.put_item(TableName=table, Item=favourite_item(sub, listing["id"], now)),
        console.delete_item(TableName=table, Key=keys.favourite(sub, listing["id"])),
        console.put_item(
            TableName=table,
            Item={**keys.audit(now, "01JCONSOLE"), "type": {"S": "AuditEvent"}},
        ),
    ]
    for edit in edits:
        await edit

    # Bounded wait until the consumer has applied every one of them.
    deadline = time.monotonic() + 10.0
    while records_applied(client) < applied + len(edits):
        assert time.monotonic() < deadline, "the consumer did not apply the edits in 10 s"
        await asyncio.sleep(0.05)

    ignored_now = sum(
        counted(client, "hustlehub_stream_records_total", event=event, effect="none")
        for event in ("INSERT", "MODIFY", "REMOVE")
    )
    assert ignored_now - ignored == len(edits)
    assert counted(client, "hustlehub_stream_invalidations_total") == invalidations
    for path in paths:
        response = await client.get(path)
        assert response.headers["X-Cache"] in HIT, path
        assert response.headers["ETag"] == etags[path], path
    assert (await body(client, paths[-1]))[1] in HIT
