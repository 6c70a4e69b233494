"""Admin writes to the catalog: commit to DynamoDB, then invalidate what the write changed, then
return. The invalidation finishes before the HTTP response, so any read that starts after the
response misses the old entries (see `cachekeys` for what each tag covers).

With a ledger (stream invalidation on), each write runs inside `changes.recording`, so the
items it changes carry its mark, and once its invalidation has returned the ledger notes what
it changed: the stream consumer then leaves those records alone instead of dropping the same
tags a second time (service.streams.ledger), and names the write's request id in its log lines
about them (service.streams.attribution)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Protocol

from cache import ReadThroughCache
from metrics import waits
from service.catalog.cachekeys import CATEGORIES, LISTINGS, category_tags, listing_tags
from service.catalog.turns import WriterTurns
from service.errors import VersionMismatch
from service.models.category import Category, CategoryCreate, CategoryPatch
from service.models.listing import Listing, ListingCreate, ListingPatch
from service.store import changes
from service.store.changes import ChangeSet
from service.store.stores import Stores


class ChangeLedger(Protocol):
    """Where a write notes the changes it has invalidated (service.streams.ledger)."""

    @property
    def region(self) -> str: ...

    async def remember(self, change: ChangeSet) -> None:
        """Never raises: a change not noted is invalidated by the consumer once more."""


class Writes:
    def __init__(
        self,
        stores: Stores,
        cache: ReadThroughCache,
        *,
        turns: WriterTurns | None = None,
        ledger: ChangeLedger | None = None,
    ) -> None:
        self._stores = stores
        self._cache = cache
        self._turns = turns if turns is not None else WriterTurns()
        self._ledger = ledger

    @contextlib.contextmanager
    def _recording(self) -> Iterator[ChangeSet | None]:
        if self._ledger is None:
            yield None
            return
        # The request's id from the box its endpoint opened (metrics.waits), as log lines
        # read it: the use cases' signatures need not carry it.
        box = waits.current()
        request_id = box.request_id if box is not None else None
        with changes.recording(self._ledger.region, request_id=request_id) as change:
            yield change

    async def _invalidate(self, tags: Iterable[str], change: ChangeSet | None) -> None:
        with waits.waited():  # Redis: the invalidation, its acknowledgements, the ledger
            await self._cache.invalidate(tags, answering=True)
            # Only now: a change noted before its invalidation had landed could be skipped by
            # the consumer even though nobody had dropped its tags yet.
            if change is not None and self._ledger is not None:
                await self._ledger.remember(change)

    @contextlib.asynccontextmanager
    async def _versioned(self, key: str, expected_version: int) -> AsyncIterator[None]:
        """One optimistic-locking attempt, taken in its fair turn (see `service.catalog.turns`)."""
        async with self._turns.turn(key, expected_version):
            try:
                yield
            except VersionMismatch as exc:
                self._turns.lost(key, exc.current_version)
                raise

    async def create_category(self, data: CategoryCreate, *, actor: str) -> Category:
        with self._recording() as change:
            created = await self._stores.categories.create(data, actor=actor)
        await self._invalidate([CATEGORIES, *category_tags(created.id, created.slug)], change)
        return created

    async def update_category(
        self, category_id: str, patch: CategoryPatch, *, expected_version: int, actor: str
    ) -> Category:
        async with self._versioned(f"category:{category_id}", expected_version):
            with self._recording() as change:
                before, after = await self._stores.categories.update(
                    category_id, patch, expected_version=expected_version, actor=actor
                )
        tags = [CATEGORIES, *category_tags(after.id, before.slug, after.slug)]
        if (before.slug, before.name) != (after.slug, after.name):
            tags.append(LISTINGS)  # listing bodies show the category's slug and name
        await self._invalidate(tags, change)
        return after

    async def delete_category(self, category_id: str, *, actor: str) -> None:
        with self._recording() as change:
            deleted = await self._stores.categories.delete(category_id, actor=actor)
        await self._invalidate([CATEGORIES, *category_tags(deleted.id, deleted.slug)], change)

    async def create_listing(self, data: ListingCreate, *, actor: str) -> Listing:
        with self._recording() as change:
            created = await self._stores.listings.create(data, actor=actor)
        await self._invalidate(
            [
                CATEGORIES,  # listing counts
                *category_tags(created.category_id, created.category_slug),
                *listing_tags(created.id, created.slug),
            ],
            change,
        )
        return created

    async def update_listing(
        self, listing_id: str, patch: ListingPatch, *, expected_version: int, actor: str
    ) -> Listing:
        async with self._versioned(f"listing:{listing_id}", expected_version):
            with self._recording() as change:
                before, after = await self._stores.listings.update(
                    listing_id, patch, expected_version=expected_version, actor=actor
                )
        tags = [
            *listing_tags(after.id, before.slug, after.slug),
            # Both pages: the one it left and the one it joined (the same one unless moved).
            *category_tags(
                before.category_id, before.category_slug, after.category_id, after.category_slug
            ),
        ]
        if before.category_id != after.category_id:
            tags.append(CATEGORIES)
        await self._invalidate(tags, change)
        return after

    async def delete_listing(self, listing_id: str, *, actor: str) -> None:
        with self._recording() as change:
            deleted = await self._stores.listings.delete(listing_id, actor=actor)
        await self._invalidate(
            [
                CATEGORIES,
                *category_tags(deleted.category_id, deleted.category_slug),
                *listing_tags(deleted.id, deleted.slug),
            ],
            change,
        )
