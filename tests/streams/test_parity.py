"""The stream's view of the API's own writes: the union of `tags_for_change` over the records of
one admin write is the set `service/catalog/writes.py` invalidates for it (a category rename adds
the listings its refresh rewrites). Read straight off moto's stream, consumer off, so only the
mapping is under test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from types_aiobotocore_dynamodbstreams import DynamoDBStreamsClient

from service.config import Settings
from service.store.client import dynamodb_client, dynamodb_streams_client
from service.streams.changetags import tags_for_change
from tests.api.factories import create_category, create_listing
from tests.support.app import bearer

Client = TestClient[Any, Any]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"stream_invalidation": False})


class Tap:
    """Records appended to the table's stream after `mark()`."""

    def __init__(self, streams: DynamoDBStreamsClient, arn: str) -> None:
        self._streams, self._arn = streams, arn
        self._iterator = ""

    async def mark(self) -> None:
        shard = (await self._streams.describe_stream(StreamArn=self._arn))["StreamDescription"][
            "Shards"
        ][0]["ShardId"]
        self._iterator = (
            await self._streams.get_shard_iterator(
                StreamArn=self._arn, ShardId=shard, ShardIteratorType="LATEST"
            )
        )["ShardIterator"]

    async def tags(self) -> set[str]:
        found: set[str] = set()
        for _ in range(20):  # bounded: moto hands over everything in the first call or two
            page = await self._streams.get_records(ShardIterator=self._iterator, Limit=1000)
            self._iterator = page["NextShardIterator"]
            if not page["Records"]:
                return found
            for record in page["Records"]:
                change: Any = record["dynamodb"]
                found |= tags_for_change(change.get("OldImage"), change.get("NewImage"))
        return found


@pytest.fixture
async def tap(settings: Settings) -> AsyncIterator[Tap]:
    async with dynamodb_client(settings) as client, dynamodb_streams_client(settings) as streams:
        described = await client.describe_table(TableName=settings.table_name)
        yield Tap(streams, described["Table"]["LatestStreamArn"])


async def patch(client: Client, token: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    etag = (await client.get(path.replace("/admin", ""))).headers["ETag"]
    response = await client.patch(path, json=body, headers={**bearer(token), "If-Match": etag})
    assert response.status == 200, await response.text()
    patched: dict[str, Any] = await response.json()
    return patched


async def test_each_admin_write_seen_on_the_stream_drops_what_the_api_drops(
    client: Client, admin_token: str, tap: Tap
) -> None:
    await tap.mark()
    one = await create_category(client, admin_token)
    assert await tap.tags() == {"categories", f"c:{one['id']}", f"c:{one['slug']}"}

    two = await create_category(client, admin_token)
    await tap.tags()
    listing = await create_listing(client, admin_token, one["id"])
    assert await tap.tags() == {
        "categories",
        f"c:{one['id']}",
        f"c:{one['slug']}",
        f"l:{listing['id']}",
        f"l:{listing['slug']}",
    }

    moved = await patch(
        client,
        admin_token,
        f"/v1/admin/listings/{listing['id']}",
        {"categoryId": two["id"], "slug": f"{listing['slug']}-moved"},
    )
    assert await tap.tags() == {
        "categories",
        *(f"c:{ref}" for ref in (one["id"], one["slug"], two["id"], two["slug"])),
        *(f"l:{ref}" for ref in (listing["id"], listing["slug"], moved["slug"])),
    }

    renamed = await patch(
        client,
        admin_token,
        f"/v1/admin/categories/{two['id']}",
        {"name": "Renamed", "slug": f"{two['slug']}-renamed"},
    )
    # writes.py's set, plus the moved listing by id and slug: its item and row were refreshed.
    assert await tap.tags() == {
        "categories",
        "listings",
        *(f"c:{ref}" for ref in (two["id"], two["slug"], renamed["slug"])),
        *(f"l:{ref}" for ref in (listing["id"], moved["slug"])),
    }

    response = await client.delete(
        f"/v1/admin/listings/{listing['id']}", headers=bearer(admin_token)
    )
    assert response.status == 204
    assert await tap.tags() == {
        "categories",
        *(f"c:{ref}" for ref in (two["id"], renamed["slug"])),
        *(f"l:{ref}" for ref in (listing["id"], moved["slug"])),
    }
