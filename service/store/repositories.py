"""What the use cases need of the repositories the migration phases may replace.

The DynamoDB stores are the one implementation after the migration; during it the
composition root may hand the use cases the legacy Postgres stores or the dual-read stores
(service.transition) instead, and the use cases cannot tell.
"""

from __future__ import annotations

from typing import Protocol

from service.models.category import Category, CategoryCreate, CategoryPatch
from service.models.favourite import Favourite
from service.models.listing import Listing, ListingCreate, ListingPatch
from service.models.page import Page
from service.models.user import UserProfile


class CategoryRepository(Protocol):
    async def list_all(self) -> list[Category]: ...

    async def get(self, category_id: str, *, consistent: bool = False) -> Category: ...

    async def get_by_slug(self, slug: str, *, consistent: bool = False) -> Category: ...

    async def create(self, data: CategoryCreate, *, actor: str) -> Category: ...

    async def update(
        self, category_id: str, patch: CategoryPatch, *, expected_version: int, actor: str
    ) -> tuple[Category, Category]: ...

    async def delete(self, category_id: str, *, actor: str) -> Category: ...


class ListingRepository(Protocol):
    async def get(self, listing_id: str, *, consistent: bool = False) -> Listing: ...

    async def get_by_slug(self, slug: str, *, consistent: bool = False) -> Listing: ...

    async def list_by_category(
        self, category_id: str, *, limit: int, cursor: str | None
    ) -> Page[Listing]: ...

    async def chunk_in_category(
        self, category_id: str, *, older_than: str | None, limit: int
    ) -> list[Listing]: ...

    async def create(self, data: ListingCreate, *, actor: str) -> Listing: ...

    async def update(
        self, listing_id: str, patch: ListingPatch, *, expected_version: int, actor: str
    ) -> tuple[Listing, Listing]: ...

    async def delete(self, listing_id: str, *, actor: str) -> Listing: ...


class UserRepository(Protocol):
    async def create_profile(
        self, sub: str, *, email: str, display_name: str
    ) -> tuple[UserProfile, bool]: ...

    async def get_profile(self, sub: str) -> UserProfile: ...

    async def update_display_name(self, sub: str, name: str) -> UserProfile: ...

    async def is_admin(self, sub: str) -> bool: ...

    async def grant_admin(self, sub: str, *, actor: str) -> bool: ...

    async def revoke_admin(self, sub: str, *, actor: str) -> bool: ...


class FavouriteRepository(Protocol):
    async def save(self, sub: str, listing_id: str) -> bool: ...

    async def unsave(self, sub: str, listing_id: str) -> None: ...

    async def get(self, sub: str, listing_id: str) -> Favourite: ...

    async def list(self, sub: str, *, limit: int, cursor: str | None) -> Page[Favourite]: ...
