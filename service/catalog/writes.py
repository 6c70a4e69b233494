"""Admin writes to the catalog: commit to DynamoDB, then invalidate what the write changed, then
return. The invalidation finishes before the HTTP response, so any read that starts after the
response misses the old entries (see `cachekeys` for what each tag covers)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from cache import ReadThroughCache
from service.catalog.cachekeys import CATEGORIES, LISTINGS, category_tags, listing_tags
from service.catalog.turns import WriterTurns
from service.errors import VersionMismatch
from service.models.category import Category, CategoryCreate, CategoryPatch
from service.models.listing import Listing, ListingCreate, ListingPatch
from service.store.stores import Stores


class Writes:
    def __init__(
        self, stores: Stores, cache: ReadThroughCache, *, turns: WriterTurns | None = None
    ) -> None:
        self._stores = stores
        self._cache = cache
        self._turns = turns if turns is not None else WriterTurns()

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
        created = await self._stores.categories.create(data, actor=actor)
        await self._cache.invalidate([CATEGORIES, *category_tags(created.id, created.slug)])
        return created

    async def update_category(
        self, category_id: str, patch: CategoryPatch, *, expected_version: int, actor: str
    ) -> Category:
        async with self._versioned(f"category:{category_id}", expected_version):
            before, after = await self._stores.categories.update(
                category_id, patch, expected_version=expected_version, actor=actor
            )
        tags = [CATEGORIES, *category_tags(after.id, before.slug, after.slug)]
        if (before.slug, before.name) != (after.slug, after.name):
            tags.append(LISTINGS)  # listing bodies show the category's slug and name
        await self._cache.invalidate(tags)
        return after

    async def delete_category(self, category_id: str, *, actor: str) -> None:
        deleted = await self._stores.categories.delete(category_id, actor=actor)
        await self._cache.invalidate([CATEGORIES, *category_tags(deleted.id, deleted.slug)])

    async def create_listing(self, data: ListingCreate, *, actor: str) -> Listing:
        created = await self._stores.listings.create(data, actor=actor)
        await self._cache.invalidate(
            [
                CATEGORIES,  # listing counts
                *category_tags(created.category_id, created.category_slug),
                *listing_tags(created.id, created.slug),
            ]
        )
        return created

    async def update_listing(
        self, listing_id: str, patch: ListingPatch, *, expected_version: int, actor: str
    ) -> Listing:
        async with self._versioned(f"listing:{listing_id}", expected_version):
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
        await self._cache.invalidate(tags)
        return after

    async def delete_listing(self, listing_id: str, *, actor: str) -> None:
        deleted = await self._stores.listings.delete(listing_id, actor=actor)
        await self._cache.invalidate(
            [
                CATEGORIES,
                *category_tags(deleted.category_id, deleted.category_slug),
                *listing_tags(deleted.id, deleted.slug),
            ]
        )
