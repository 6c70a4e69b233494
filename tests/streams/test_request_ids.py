"""The stream consumer's line about a record names the request of the admin write that made the
change, and no request for a change made outside the API, though the edited item still carries
the id of its last API write. On moto's real stream, with Redis (the ledger)."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp.test_utils import TestClient
from types_aiobotocore_dynamodb import DynamoDBClient

from service.api.requestid import HEADER
from service.config import Settings
from service.store import keys
from tests.api.factories import create_category, listing_body
from tests.streams.test_direct_edits import settled
from tests.support.app import bearer
from tests.support.logcapture import Lines, captured_logs

Client = TestClient[Any, Any]


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

        # An admin delete: its REMOVE records name no request (their old images hold the id
        # of the write before), its update of the category's count names the delete's.
        before = len(applied(lines, category_pk))
        response = await client.delete(
            f"/v1/admin/listings/{listing['id']}",
            headers={**bearer(admin_token), "If-Match": '"v1"', HEADER: delete_id},
        )
        assert response.status == 204, await response.text()
        await settled(client, quiet_s=1.5)
    removed = [e for e in applied(lines, listing_pk) if e["stream_event"] == "REMOVE"]
    assert removed
    assert all(e["effect"] == "handled" and "request_id" not in e for e in removed)
    counted = [e for e in applied(lines, category_pk)[before:] if e["stream_event"] == "MODIFY"]
    assert {e.get("request_id") for e in counted} == {delete_id}
    assert create_id not in {e.get("request_id") for e in removed + counted}
