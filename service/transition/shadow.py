"""Dual-read repositories: DynamoDB answers first, Postgres is read alongside and compared.

Every read (a cache miss: hits never get here) asks DynamoDB, the legacy Postgres and the
outbox at once; once DynamoDB has answered (an item or NotFound), Postgres gets
`shadow_timeout_s` more (past it the read answers as if Postgres had failed: no comparison,
DynamoDB's answer). It answers with
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
from collections.abc import Awaitable, Sequence
from typing import TypeVar, cast

from service.errors import NotFound, StoreError, StoreUnavailable
from service.models.category import Category, CategoryCreate, CategoryPatch
from service.models.favourite import Favourite
from service.models.listing import Listing, ListingCreate, ListingPatch
from service.models.page import Page
from service.models.user import UserProfile
from service.store.repositories import CategoryRepository, ListingRepository
from service.transition.legacy.categories import LegacyCategoryStore
from service.transition.legacy.changes import EntityKind
from service.transition.legacy.listings import LegacyListingStore
from service.transition.observer import MigrationObserver
from service.transition.outbox import Outbox

T = TypeVar(
    "T",
    Category,
    Listing,
    list[Category],
    list[Listing],
    Page[Listing],
    UserProfile,
    bool,
    Favourite,
    Page[Favourite],
)
log = logging.getLogger(__name__)
CATEGORY: tuple[EntityKind, ...] = ("category",)
LISTING: tuple[EntityKind, ...] = ("listing",)


class ShadowReader:
    def __init__(
        self, outbox: Outbox, observer: MigrationObserver, *, shadow_timeout_s: float
    ) -> None:
        self._outbox = outbox
        self._observer = observer
        self._shadow_timeout_s = shadow_timeout_s

    async def read(
        self,
        entity: str,
        kinds: Sequence[EntityKind],
        primary: Awaitable[T],
        legacy: Awaitable[T],
    ) -> T:
        """`kinds`: the entities whose outstanding writes make DynamoDB's answer `behind`."""
        new_task = asyncio.ensure_future(primary)
        old_task = asyncio.ensure_future(self._legacy(kinds, legacy))
        try:
            new = await _settled(new_task)
            if isinstance(new, BaseException) and not isinstance(new, NotFound | StoreError):
                raise new  # a bad cursor, a bug: not something Postgres can answer instead
            if isinstance(new, StoreError):
                old, behind = await old_task  # the only answer left: worth its full timeout
            else:
                # DynamoDB answered (NotFound too: every uuid-shaped id is also looked up as a
                # slug): a slow Postgres may delay that answer only a little.
                done, _ = await asyncio.wait({old_task}, timeout=self._shadow_timeout_s)
                old, behind = (
                    old_task.result()
                    if done
                    else (StoreUnavailable("Postgres slower than the shadow timeout"), False)
                )
        finally:
            for task in (new_task, old_task):
                task.cancel()
        return cast(T, self._choose(entity, new, old, behind))

    async def _legacy(
        self, kinds: Sequence[EntityKind], legacy: Awaitable[T]
    ) -> tuple[object, object]:
        old, behind = await asyncio.gather(
            legacy, self._outbox.behind(kinds), return_exceptions=True
        )
        return old, behind

    def _choose(self, entity: str, new: object, old: object, behind: object) -> object:
        if isinstance(old, BaseException) and not isinstance(old, NotFound | StoreError):
            raise old
        if not isinstance(new, StoreError) and not isinstance(old, StoreError):
            matched = _same(new, old)
            self._observer.compared(entity, matched=matched)
            if not matched:
                log.info("dual-read: DynamoDB and Postgres differ on a %s", entity)
        reason = _fallback_reason(new, old, behind)
        answer = new
        if reason is not None:
            self._observer.fell_back(entity, reason)
            answer = old
        if isinstance(answer, BaseException):
            raise answer
        return answer


async def _settled(task: asyncio.Future[T]) -> T | BaseException:
    try:
        return await task
    except Exception as exc:  # noqa: BLE001 - handed back: read() decides what it means
        return exc


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
            "category_list", CATEGORY, self._primary.list_all(), self._legacy.list_all()
        )

    async def get(self, category_id: str, *, consistent: bool = False) -> Category:
        return await self._shadow.read(
            "category",
            CATEGORY,
            self._primary.get(category_id, consistent=consistent),
            self._legacy.get(category_id),
        )

    async def get_by_slug(self, slug: str, *, consistent: bool = False) -> Category:
        return await self._shadow.read(
            "category",
            CATEGORY,
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
            LISTING,
            self._primary.get(listing_id, consistent=consistent),
            self._legacy.get(listing_id),
        )

    async def get_by_slug(self, slug: str, *, consistent: bool = False) -> Listing:
        return await self._shadow.read(
            "listing",
            LISTING,
            self._primary.get_by_slug(slug, consistent=consistent),
            self._legacy.get_by_slug(slug),
        )

    async def list_by_category(
        self, category_id: str, *, limit: int, cursor: str | None
    ) -> Page[Listing]:
        return await self._shadow.read(
            "listing_page",
            LISTING,
            self._primary.list_by_category(category_id, limit=limit, cursor=cursor),
            self._legacy.list_by_category(category_id, limit=limit, cursor=cursor),
        )

    async def chunk_in_category(
        self, category_id: str, *, older_than: str | None, limit: int
    ) -> list[Listing]:
        # Compared whole, like a page: a chunk is one cached answer.
        return await self._shadow.read(
            "listing_page",
            LISTING,
            self._primary.chunk_in_category(category_id, older_than=older_than, limit=limit),
            self._legacy.chunk_in_category(category_id, older_than=older_than, limit=limit),
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
