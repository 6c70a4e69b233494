"""Test helpers: a recording StoreObserver (a fake of our own Protocol), unique names, data."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

from types_aiobotocore_dynamodb import DynamoDBClient

from service.models.category import CategoryCreate
from service.models.listing import IncomePotential, ListingCreate


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid4().hex[:10]}"


def category_data(*, slug: str | None = None, name: str = "Cat", sort: int = 0) -> CategoryCreate:
    return CategoryCreate(slug=slug or unique("cat"), name=name, sort_order=sort)


def listing_data(
    category_id: str, *, slug: str | None = None, title: str = "A gig"
) -> ListingCreate:
    return ListingCreate(
        slug=slug or unique("gig"),
        title=title,
        summary="Something to do on weekends",
        category_id=category_id,
        location="Leeds, UK",
        remote=True,
        skills=["writing", "editing"],
        income_potential=IncomePotential(min=100, max=900, currency="GBP", period="month"),
        url="https://example.com/gig",
    )


@dataclass
class RecordingObserver:
    finished: list[tuple[str, str, str | None]] = field(default_factory=list)
    retries: list[tuple[str, str]] = field(default_factory=list)
    throttles: list[str] = field(default_factory=list)
    capacity: list[tuple[str, str | None, float, float]] = field(default_factory=list)
    unprocessed_counts: list[tuple[str, int]] = field(default_factory=list)

    def call_finished(
        self,
        operation: str,
        seconds: float,
        outcome: str,
        error_code: str | None,
        *,
        trace_id: str | None = None,
    ) -> None:
        self.finished.append((operation, outcome, error_code))

    def retried(self, operation: str, error_code: str) -> None:
        self.retries.append((operation, error_code))

    def throttled(self, operation: str) -> None:
        self.throttles.append(operation)

    def consumed(
        self, table: str, index: str | None, read_units: float, write_units: float
    ) -> None:
        self.capacity.append((table, index, read_units, write_units))

    def unprocessed(self, operation: str, count: int) -> None:
        self.unprocessed_counts.append((operation, count))


class CommitGate:
    """Holds `writers` concurrent transactions until all have arrived, then lets them through
    one at a time.

    moto's server handles requests on threads and does not make a transaction's condition
    check and its write atomic; real DynamoDB does. Waiting for every writer means each has
    read the same version before any commits (the interleaving that loses updates); passing
    them one at a time gives moto the atomicity DynamoDB has.
    """

    def __init__(self, writers: int) -> None:
        self._writers = writers
        self._arrived = 0
        self._all_here = asyncio.Event()
        self._turn = asyncio.Lock()

    def install(self, client: DynamoDBClient) -> None:
        events = client.meta.events
        # aiobotocore awaits coroutine handlers; the botocore-derived stubs only know sync ones.
        events.register("before-call.dynamodb.TransactWriteItems", self._enter)  # type: ignore[arg-type]
        events.register("after-call.dynamodb.TransactWriteItems", self._leave)
        events.register("after-call-error.dynamodb.TransactWriteItems", self._leave)

    async def _enter(self, **_: Any) -> None:
        self._arrived += 1
        if self._arrived >= self._writers:
            self._all_here.set()
        await asyncio.wait_for(self._all_here.wait(), timeout=5)
        await self._turn.acquire()

    def _leave(self, **_: Any) -> None:
        self._turn.release()
