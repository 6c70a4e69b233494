"""Dual-read repositories: DynamoDB answers first, Postgres is read alongside and compared.

Every read (a cache miss: hits never get here) asks DynamoDB, the legacy Postgres and the
outbox at once, and answers with
- DynamoDB's answer, normally;
- Postgres's, when DynamoDB failed (`dynamodb_error`), lacks the item (`missing`), or is known
  to be behind because the outbox still holds a write to that kind of entity, pending or dead
  (`behind`): that keeps "a read after a write's response sees the write" true while DynamoDB
  is down or slow to catch up.
When both answered, the two are compared and a difference counted (entity label bounded).
Writes go to the legacy stores, as in dual-write: Postgres stays the truth until the
dynamodb-only phase, so going back to dual-write needs nothing copied back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import TypeVar

from service.errors import NotFound, StoreError
from service.legacy.categories import LegacyCategoryStore
from service.legacy.changes import EntityKind
from service.legacy.listings import LegacyListingStore
from service.migrate.phases.observer import MigrationObserver
from service.migrate.phases.outbox import Outbox
from service.models.category import Category, CategoryCreate, CategoryPatch
from service.models.listing import Listing, ListingCreate, ListingPatch
from service.models.page import Page
from service.store.repositories import CategoryRepository, ListingRepository

T = TypeVar("T", Category, Listing, list[Category], Page[Listing])
log = logging.getLogger(__name__)


class ShadowReader:
    def __init__(self, outbox: Outbox, observer: MigrationObserver) -> None:
        self._outbox = outbox
        self._observer = observer

    async def read(
        self, entity: str, kind: EntityKind, primary: Awaitable[T], legacy: Awaitable[T]
    ) -> T:
        new, old, behind = await asyncio.gather(
            primary, legacy, self._outbox.behind(kind), return_exceptions=True
        )
        if isinstance(new, BaseException) and not isinstance(new, NotFound | StoreError):
            raise new  # a bad cursor, a bug: not something Postgres can answer instead
        if isinstance(old, BaseException) and not isinstance(old, NotFound | StoreError):
            raise old
        if not isinstance(new, StoreError) and not isinstance(old, StoreError):
            matched = _same(new, old)
            self._observer.compared(entity, matched=matched)
            if not matched:
                log.info("dual-read: DynamoDB and Postgres differ on a %s", entity)
        reason = _fallback_reason(new, old, behind)
        if reason is None:
            if isinstance(new, BaseException):
                raise new
            return new
        self._observer.fell_back(entity, reason)
        if isinstance(old, BaseException):
            raise old
        return old


def _same(new: object, old: object) -> bool:
    if isinstance(new, NotFound) or isinstance(old, NotFound):
        return isinstance(new, NotFound) and isinstance(old, NotFound)
    return new == old


def _fallback_reason(new: object, old: object, behind: object) -> str | None:
    """Why Postgres's answer (a value or a NotFound) should be given; None: DynamoDB's."""
    if isinstance(old, StoreError):
        return None  # nothing better to offer
    if isinstance(new, StoreError):
        return "dynamodb_error"
    if isinstance(new, NotFound):
        return None if isinstance(old, NotFound) else "missing"
    # A row deleted in Postgres that DynamoDB still holds is behind too: NotFound is the answer.
    return "behind" if behind is True else None


class DualReadCategories:
    def __init__(
        self, primary: CategoryRepository, legacy: LegacyCategoryStore, shadow: ShadowReader
    ) -> None:
        self._primary = primary
        self._legacy = legacy
        self._shadow = shadow

    async def list_all(self) -> list[Category]:
        return await self._shadow.read(
            "category_list", "category", self._primary.list_all(), self._legacy.list_all()
        )

    async def get(self, category_id: str, *, consistent: bool = False) -> Category:
        return await self._shadow.read(
            "category",
            "category",
            self._primary.get(category_id, consistent=consistent),
            self._legacy.get(category_id),
        )

    async def get_by_slug(self, slug: str, *, consistent: bool = False) -> Category:
        return await self._shadow.read(
            "category",
            "category",
            self._primary.get_by_slug(slug, consistent=consistent),
            self._legacy.get_by_slug(slug),
        )

    async def create(self, data: CategoryCreate, *, actor: str) -> Category:
        return await self._legacy.create(data, actor=actor)

    async def update(
        self, category_id: str, patch: CategoryPatch, *, expected_version: int, actor: str
    ) -> tuple[Category, Category]:
        return await self._legacy.update(
            category_id, patch, expected_version=expected_version, actor=actor
        )

    async def delete(self, category_id: str, *, actor: str) -> Category:
        return await self._legacy.delete(category_id, actor=actor)


class DualReadListings:
    def __init__(
        self, primary: ListingRepository, legacy: LegacyListingStore, shadow: ShadowReader
    ) -> None:
        self._primary = primary
        self._legacy = legacy
        self._shadow = shadow

    async def get(self, listing_id: str, *, consistent: bool = False) -> Listing:
        return await self._shadow.read(
            "listing",
            "listing",
            self._primary.get(listing_id, consistent=consistent),
            self._legacy.get(listing_id),
        )

    async def get_by_slug(self, slug: str, *, consistent: bool = False) -> Listing:
        return await self._shadow.read(
            "listing",
            "listing",
            self._primary.get_by_slug(slug, consistent=consistent),
            self._legacy.get_by_slug(slug),
        )

    async def list_by_category(
        self, category_id: str, *, limit: int, cursor: str | None
    ) -> Page[Listing]:
        return await self._shadow.read(
            "listing_page",
            "listing",
            self._primary.list_by_category(category_id, limit=limit, cursor=cursor),
            self._legacy.list_by_category(category_id, limit=limit, cursor=cursor),
        )

    async def create(self, data: ListingCreate, *, actor: str) -> Listing:
        return await self._legacy.create(data, actor=actor)

    async def update(
        self, listing_id: str, patch: ListingPatch, *, expected_version: int, actor: str
    ) -> tuple[Listing, Listing]:
        return await self._legacy.update(
            listing_id, patch, expected_version=expected_version, actor=actor
        )

    async def delete(self, listing_id: str, *, actor: str) -> Listing:
        return await self._legacy.delete(listing_id, actor=actor)
