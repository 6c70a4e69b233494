"""Throttling injected through botocore's event hooks on a client of our own: the code under
test (Table, batch helpers) runs unmodified, and so does the HTTP path when not throttled."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError
from types_aiobotocore_dynamodb import DynamoDBClient

from service.config import Settings
from service.dev.devserver import free_port
from service.errors import StoreUnavailable
from service.store import keys
from service.store.batch import batch_get, batch_write, put_request
from service.store.client import dynamodb_client
from service.store.codec import to_item
from service.store.table import Table
from tests.integration.store.support import RecordingObserver, unique

pytestmark = pytest.mark.asyncio(loop_scope="session")
THROTTLE = "ProvisionedThroughputExceededException"


def throttling(times: int) -> tuple[Any, list[int]]:
    calls = [0]

    def handler(**_: Any) -> tuple[Any, dict[str, Any]] | None:
        calls[0] += 1
        if calls[0] > times:
            return None  # let the real call through
        parsed = {
            "Error": {"Code": THROTTLE, "Message": "slow down"},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }
        return SimpleNamespace(status_code=400, headers={}), parsed

    return handler, calls


def make_table(client: DynamoDBClient, settings: Settings, **overrides: Any) -> Table:
    observer = RecordingObserver()
    table = Table.from_settings(client, settings, observer=observer)
    for name, value in overrides.items():
        setattr(table, name, value)
    return table


async def test_throttles_then_success_are_retried_and_reported(
    private_client: DynamoDBClient, store_settings: Settings
) -> None:
    table = make_table(private_client, store_settings)
    handler, calls = throttling(3)
    private_client.meta.events.register("before-call.dynamodb.GetItem", handler)
    response = await table.call("GetItem", Key=keys.user(unique("nobody")))
    assert "Item" not in response
    assert calls[0] == 4
    observer = table.observer
    assert isinstance(observer, RecordingObserver)
    assert observer.retries == [("GetItem", THROTTLE)] * 3
    assert observer.throttles == ["GetItem"] * 3
    assert observer.finished == [("GetItem", "ok", None)]
    assert observer.capacity
    assert observer.capacity[0][0] == table.name


async def test_throttling_past_the_deadline_is_unavailable_with_the_cause(
    private_client: DynamoDBClient, store_settings: Settings
) -> None:
    settings = store_settings.model_copy(
        update={
            "dynamodb_call_deadline_s": 0.3,
            "dynamodb_retry_base_s": 0.02,
            "dynamodb_retry_cap_s": 0.05,
        }
    )
    table = make_table(private_client, settings, max_attempts=10_000)
    handler, calls = throttling(10_000)
    private_client.meta.events.register("before-call.dynamodb.GetItem", handler)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(StoreUnavailable) as caught:
        await table.call("GetItem", Key=keys.user(unique("nobody")))
    elapsed = loop.time() - started
    assert 0.2 < elapsed < 1.0
    assert calls[0] > 3
    assert caught.value.code == THROTTLE
    assert caught.value.retry_after == 1
    assert isinstance(caught.value.__cause__, ClientError)
    assert table.observer.finished == [("GetItem", "throttled", THROTTLE)]  # type: ignore[attr-defined]


async def test_unprocessed_items_are_retried_until_written(
    private_client: DynamoDBClient, store_settings: Settings, table: Table
) -> None:
    retrying = make_table(private_client, store_settings)
    partial = {"left": 3}
    dropped: list[Any] = []

    def before(params: dict[str, Any], **_: Any) -> None:
        if partial["left"] > 0:
            partial["left"] -= 1
            requests = params["RequestItems"][retrying.name]
            keep = len(requests) // 2
            dropped[:] = requests[keep:]
            params["RequestItems"] = {retrying.name: requests[:keep]}

    def after(parsed: dict[str, Any], **_: Any) -> None:
        if dropped:
            # What DynamoDB does under pressure: accept some, hand the rest back.
            parsed["UnprocessedItems"] = {retrying.name: list(dropped)}
            dropped.clear()

    private_client.meta.events.register("before-parameter-build.dynamodb.BatchWriteItem", before)
    private_client.meta.events.register("after-call.dynamodb.BatchWriteItem", after)
    prefix = unique("batch")
    items = [
        {**keys.key(f"{prefix}#{i}", "METADATA#x"), **to_item({"type": "Test", "n": i})}
        for i in range(30)
    ]
    await batch_write(retrying, [put_request(item) for item in items])
    written = await batch_get(table, [keys.key(f"{prefix}#{i}", "METADATA#x") for i in range(30)])
    assert sorted(int(item["n"]["N"]) for item in written) == list(range(30))
    observer = retrying.observer
    assert isinstance(observer, RecordingObserver)
    assert [op for op, _ in observer.unprocessed_counts] == ["BatchWriteItem"] * 3


async def test_an_unreachable_endpoint_is_unavailable(store_settings: Settings) -> None:
    settings = store_settings.model_copy(
        update={
            "dynamodb_endpoint": f"http://127.0.0.1:{free_port()}",
            "dynamodb_call_deadline_s": 0.5,
        }
    )
    async with dynamodb_client(settings) as client:
        table = make_table(client, settings)
        with pytest.raises(StoreUnavailable) as caught:
            await table.call("GetItem", Key=keys.user("x"))
    assert caught.value.__cause__ is not None
    assert table.observer.retries  # type: ignore[attr-defined]
