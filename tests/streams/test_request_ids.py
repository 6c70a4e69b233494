"""The stream consumer's line about a record names the request of the admin write that made the
change, and no request for a change made outside the API, though the edited item still carries
the id of its last API write. A deletion's REMOVE records, which have no new image, name the
deleting request through the ledger's note; a console delete names none, and a note of a
release before ids still matches, naming none. On moto's real stream, with the ledger in Redis
and, without Redis, in the process."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis
from types_aiobotocore_dynamodb import DynamoDBClient

from service.api.requestid import HEADER
from service.app import create_app
from service.config import Settings
from service.runtime.appkeys import LEDGER, STORES
from service.store import keys
from service.store.changes import REMOVED, ChangeSet
from service.streams.ledger import Claim, LocalLedger, RedisLedger
from tests.api.factories import create_category, create_listing, listing_body
from tests.streams.test_direct_edits import settled
from tests.support import infra
from tests.support.app import AiohttpClient, AiohttpServer, bearer
from tests.support.logcapture import Lines, captured_logs
from tests.support.otlp import Receiver, attributes
from tests.support.tokens import TokenMint

Client = TestClient[Any, Any]
Event = dict[str, Any]


def applied(lines: Lines, pk: str) -> list[dict[str, Any]]:
    return [e for e in lines.events() if e["event"] == "stream record applied" and e["pk"] == pk]


async def test_an_admin_writes_records_name_its_request_and_a_direct_edits_none(
    client: Client, admin_token: str, console: DynamoDBClient, settings: Settings
) -> None:
    category = await create_category(client, admin_token)
    category_pk = keys.category(category["id"])[keys.PK]["S"]
    create_id, delete_id = f"abc-{uuid.uuid4().hex}", f"abd-{uuid.uuid4().hex}"
    await settled(client, quiet_s=1.5)  # the category's own records, before the capture
    with captured_logs(level="debug") as lines:
        response = await client.post(
            "/v1/admin/listings",
            json=listing_body(category["id"]),
            headers={**bearer(admin_token), HEADER: create_id},
        )
        assert response.status == 201, await response.text()
        listing = await response.json()
        assert "_rid" not in str(listing)
        assert create_id not in str(listing)
        await settled(client, quiet_s=1.5)  # longer than the consumer's grace
        listing_pk = keys.listing(listing["id"])[keys.PK]["S"]
        (created,) = applied(lines, listing_pk)
        assert created["effect"] == "handled"
        assert created["request_id"] == create_id
        assert created["stream_event"] == "INSERT"
        assert created["level"] == "info"
        # The same write's count on the category, and nothing else named its id.
        (count,) = [e for e in applied(lines, category_pk) if e["sk"].startswith("METADATA#")]
        assert count["request_id"] == create_id
        assert {e["request_id"] for e in applied(lines, listing_pk)} == {create_id}

        # A console user renames the category: the item keeps the last API write's `_rid`.
        item = await console.get_item(
            TableName=settings.table_name, Key=keys.category(category["id"]), ConsistentRead=True
        )
        assert item["Item"]["_rid"] == {"S": create_id}
        await console.update_item(
            TableName=settings.table_name,
            Key=keys.category(category["id"]),
            UpdateExpression="SET #n = :n",
            ExpressionAttributeNames={"#n": "name"},
            ExpressionAttributeValues={":n": {"S": "Renamed by hand"}},
        )
        await settled(client, quiet_s=1.5)
        edited = applied(lines, category_pk)[-1]
        assert edited["effect"] == "invalidated"
        assert edited["level"] == "debug"
        assert "request_id" not in edited

        # An admin delete: its REMOVE records name it through the ledger (their old images
        # hold the id of the write before), and so does its update of the category's count.
        before = len(applied(lines, category_pk))
        response = await client.delete(
            f"/v1/admin/listings/{listing['id']}",
            headers={**bearer(admin_token), "If-Match": '"v1"', HEADER: delete_id},
        )
        assert response.status == 204, await response.text()
        await settled(client, quiet_s=1.5)
    removed = [e for e in applied(lines, listing_pk) if e["stream_event"] == "REMOVE"]
    assert removed
    assert all(e["effect"] == "handled" and e["request_id"] == delete_id for e in removed)
    counted = [e for e in applied(lines, category_pk)[before:] if e["stream_event"] == "MODIFY"]
    assert {e.get("request_id") for e in counted} == {delete_id}
    assert create_id not in {e.get("request_id") for e in removed + counted}


@pytest.fixture(params=["redis", "local"])
def ledger_settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """The stream suite's settings with the ledger in Redis, or in the process (no Redis)."""
    return settings if request.param == "redis" else settings.model_copy(update={"redis_url": None})


async def admin_app(
    aiohttp_client: AiohttpClient, settings: Settings, mint: TokenMint
) -> tuple[Client, str]:
    client = await aiohttp_client(create_app(settings))
    sub = f"admin-{uuid.uuid4()}"
    await client.app[STORES].users.grant_admin(sub, actor="test-setup")
    return client, mint.token(sub)


async def logged(
    client: Client, lines: Lines, wanted: Callable[[Event], bool], *, within: float = 15.0
) -> list[Event]:
    """The consumer's lines `wanted` picks, once there is one and the consumer has gone quiet."""
    deadline = time.monotonic() + within
    while not [e for e in lines.events() if e["event"] == "stream record applied" and wanted(e)]:
        assert time.monotonic() < deadline, "the consumer never logged the record"
        await asyncio.sleep(0.1)
    await settled(client, quiet_s=1.5)  # longer than the consumer's grace
    return [e for e in lines.events() if e["event"] == "stream record applied" and wanted(e)]


def removes(event: Event) -> bool:
    return bool(event["stream_event"] == "REMOVE")


async def test_an_api_deletes_remove_records_and_their_spans_name_its_request(
    aiohttp_client: AiohttpClient,
    aiohttp_server: AiohttpServer,
    ledger_settings: Settings,
    mint: TokenMint,
) -> None:
    receiver = Receiver()
    collector = await aiohttp_server(receiver.app())
    traced = ledger_settings.model_copy(
        update={
            "tracing": True,
            "tracing_sample_ratio": 1.0,
            "tracing_otlp_endpoint": f"http://127.0.0.1:{collector.port}/v1/traces",
        }
    )
    client, token = await admin_app(aiohttp_client, traced, mint)
    ledger = type(client.app[LEDGER])
    assert ledger is (RedisLedger if ledger_settings.redis_url else LocalLedger)
    category = await create_category(client, token)
    listing = await create_listing(client, token, category["id"])
    await settled(client, quiet_s=1.5)
    delete_id = f"del-{uuid.uuid4().hex}"
    with captured_logs(level="debug") as lines:
        response = await client.delete(
            f"/v1/admin/listings/{listing['id']}",
            headers={**bearer(token), "If-Match": '"v1"', HEADER: delete_id},
        )
        assert response.status == 204, await response.text()
        removed = await logged(client, lines, removes)
    await client.close()  # the app's cleanup flushes the last spans to the receiver

    listing_pk = keys.listing(listing["id"])[keys.PK]["S"]
    assert listing_pk in {e["pk"] for e in removed}
    for event in removed:
        assert (event["effect"], event["level"]) == ("handled", "info")
        assert event["request_id"] == delete_id
    spans = [
        attributes(s)
        for s in receiver.spans()
        if s.name == "stream record" and attributes(s)["hustlehub.stream_event"] == "REMOVE"
    ]
    assert len(spans) == len(removed)
    assert {span["hustlehub.request_id"] for span in spans} == {delete_id}


async def test_a_console_delete_names_no_request(
    aiohttp_client: AiohttpClient,
    ledger_settings: Settings,
    mint: TokenMint,
    console: DynamoDBClient,
) -> None:
    client, token = await admin_app(aiohttp_client, ledger_settings, mint)
    category = await create_category(client, token)
    create_id = f"new-{uuid.uuid4().hex}"
    response = await client.post(
        "/v1/admin/listings",
        json=listing_body(category["id"]),
        headers={**bearer(token), HEADER: create_id},
    )
    assert response.status == 201, await response.text()
    listing = await response.json()
    await settled(client, quiet_s=1.5)
    key = keys.listing(listing["id"])
    with captured_logs(level="debug") as lines:
        # The old image carries the API create's `_rid`: not the deletion's.
        deleted = await console.delete_item(
            TableName=ledger_settings.table_name, Key=key, ReturnValues="ALL_OLD"
        )
        assert deleted["Attributes"]["_rid"] == {"S": create_id}
        (removed,) = await logged(client, lines, lambda e: e["pk"] == key[keys.PK]["S"])
    assert removed["stream_event"] == "REMOVE"
    assert (removed["effect"], removed["level"]) == ("invalidated", "debug")
    assert "request_id" not in removed


async def test_a_removal_noted_by_a_release_before_ids_still_matches(
    client: Client, admin_token: str, console: DynamoDBClient, settings: Settings
) -> None:
    category = await create_category(client, admin_token)
    listing = await create_listing(client, admin_token, category["id"])
    await settled(client, quiet_s=1.5)
    key = keys.listing(listing["id"])
    pk, sk = key[keys.PK]["S"], key[keys.SK]["S"]
    # What the previous release's API noted for a key it deleted, in the Redis all instances
    # share during a rolling deploy: the bare REMOVED member. Its deletion is played here by a
    # plain DeleteItem, which leaves the same REMOVE record.
    assert settings.redis_url is not None
    redis = Redis.from_url(settings.redis_url)
    try:
        await redis.sadd(f"{settings.redis_prefix}:handled:{pk}\x1f{sk}", REMOVED)
    finally:
        await redis.aclose()
    with captured_logs(level="debug") as lines:
        await console.delete_item(TableName=settings.table_name, Key=key)
        (removed,) = await logged(client, lines, lambda e: e["pk"] == pk)
    assert removed["stream_event"] == "REMOVE"
    assert (removed["effect"], removed["level"]) == ("handled", "info")
    assert "request_id" not in removed


@pytest.fixture(params=["redis", "local"])
@infra.needs(infra.REDIS)
async def ledger(request: pytest.FixtureRequest) -> AsyncIterator[LocalLedger | RedisLedger]:
    if request.param == "local":
        yield LocalLedger(region="us-east-1", ttl_s=60)
        return
    client = Redis.from_url("redis://127.0.0.1:6379/0")
    prefix = f"hh-test-{uuid.uuid4().hex[:10]}"
    found = RedisLedger(client, prefix=prefix, region="us-east-1", ttl_s=60)
    try:
        yield found
    finally:
        await found.aclose()


async def noted(ledger: LocalLedger | RedisLedger, request_id: str | None, *keys: str) -> None:
    change = ChangeSet("us-east-1", request_id)
    change.changed.update({(key, "METADATA"): REMOVED for key in keys})
    await ledger.remember(change)


async def test_a_ledger_hands_back_the_id_noted_with_a_removal_and_only_then(
    ledger: LocalLedger | RedisLedger,
) -> None:
    await noted(ledger, "req-1", "A")
    await noted(ledger, None, "B")  # a write without a request id
    change = ChangeSet("us-east-1", "req-2")
    change.changed[("C", "METADATA")] = "us-east-1/W1.1r"
    await ledger.remember(change)
    claims = [
        Claim(("A", "METADATA"), REMOVED),
        Claim(("B", "METADATA"), REMOVED),
        Claim(("C", "METADATA"), "us-east-1/W1.1r"),
        Claim(("D", "METADATA"), REMOVED),  # never noted: a console delete
        Claim(("C", "METADATA"), REMOVED),  # C was changed, not deleted
    ]
    assert await ledger.take(claims) == {0: "req-1", 1: None, 2: None}
    # Removal notes are taken; a second REMOVE of the key is not the API's.
    assert await ledger.take(claims[:2]) == {}

    # Two deletions of one key noted before the consumer saw either: the records cannot be
    # told apart, so the first matches naming neither request and the second does not match.
    await noted(ledger, "req-3", "E")
    await noted(ledger, "req-4", "E")
    assert await ledger.take([Claim(("E", "METADATA"), REMOVED)]) == {0: None}
    assert await ledger.take([Claim(("E", "METADATA"), REMOVED)]) == {}
