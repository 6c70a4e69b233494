"""Faults and probes for the migration phase tests: DynamoDB calls made to fail through
botocore's event hooks (the request never leaves the client), metric samples from /metrics,
and the legacy outbox's contents."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient
from botocore.exceptions import EndpointConnectionError
from prometheus_client import CollectorRegistry
from types_aiobotocore_dynamodb import DynamoDBClient

from metrics.migration import MigrationMetrics
from service.runtime.appkeys import SETTINGS, TABLE
from service.transition.replicator import Replicator
from service.transition.wiring import replicator


def _unreachable(**_: Any) -> None:
    raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9/ (faulted by the test)")


@contextlib.contextmanager
def dynamodb_failing(client: DynamoDBClient, *operations: str) -> Iterator[None]:
    """Every call of `operations` fails as if DynamoDB were unreachable, until the block ends."""
    events = client.meta.events
    names = [f"before-call.dynamodb.{operation}" for operation in operations]
    for name in names:
        events.register(name, _unreachable)
    try:
        yield
    finally:
        for name in names:
            events.unregister(name, _unreachable)


@contextlib.contextmanager
def app_dynamodb_failing(client: TestClient[Any, Any], *operations: str) -> Iterator[None]:
    with dynamodb_failing(client.app[TABLE].client, *operations):
        yield


async def metric(client: TestClient[Any, Any], name: str, **labels: str) -> float:
    """One sample's value from the app's /metrics (0 when absent)."""
    text = await (await client.get("/metrics")).text()
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    prefix = f"{name}{{{want}}}" if labels else name
    for line in text.splitlines():
        if line.startswith(prefix + " "):
            return float(line.split()[-1])
    return 0.0


async def outbox_rows(pg: asyncpg.Connection) -> list[asyncpg.Record]:
    return list(
        await pg.fetch(
            "select entity, entity_id, attempts, last_error from public.hustlehub_outbox"
            " order by id"
        )
    )


async def dead_rows(pg: asyncpg.Connection) -> list[asyncpg.Record]:
    return list(
        await pg.fetch("select entity, entity_id, attempts from public.hustlehub_outbox_dead")
    )


@contextlib.contextmanager
def app_dynamodb_slow(
    client: TestClient[Any, Any], operation: str, delay_s: float
) -> Iterator[None]:
    """Every call of `operation` waits `delay_s` before it is sent (a slow DynamoDB)."""

    async def wait(**_: Any) -> None:
        await asyncio.sleep(delay_s)

    events = client.app[TABLE].client.meta.events
    name = f"before-call.dynamodb.{operation}"
    # aiobotocore awaits coroutine handlers.
    events.register(name, wait)
    try:
        yield
    finally:
        events.unregister(name, wait)


def reconciler(
    client: TestClient[Any, Any], pool: asyncpg.Pool, registry: CollectorRegistry
) -> Replicator:
    """A replicator of its own over the same database and table as the app, as
    `hustlehub migrate reconcile` builds."""
    settings = client.app[SETTINGS]
    return replicator(pool, client.app[TABLE], settings.migration, MigrationMetrics(registry))
