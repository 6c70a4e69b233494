"""Dual-read for users and favourites: reads through the ShadowReader (DynamoDB first,
Postgres alongside, compared), writes to the legacy stores, as for the catalogue (shadow.py).

The admin check is a read like any other: a grant or revocation DynamoDB has not taken yet
leaves a user row in the outbox, so the check answers from Postgres (`behind`) until it has.
A favourite's page shows its listing, so an outstanding listing write puts favourites behind
too.
"""

from __future__ import annotations

from service.models.favourite import Favourite
from service.models.page import Page
from service.models.user import UserProfile
from service.store.repositories import FavouriteRepository, UserRepository
from service.transition.legacy.changes import EntityKind
from service.transition.legacy.favourites import LegacyFavouriteStore
from service.transition.legacy.users import LegacyUserStore
from service.transition.shadow import ShadowReader

USER: tuple[EntityKind, ...] = ("user",)
FAVOURITE: tuple[EntityKind, ...] = ("favourite", "listing")


class DualReadUsers:
    def __init__(
        self, primary: UserRepository, legacy: LegacyUserStore, shadow: ShadowReader
    ) -> None:
        self._primary = primary
        self._legacy = legacy
        self._shadow = shadow

    async def get_profile(self, sub: str) -> UserProfile:
        return await self._shadow.read(
            "profile", USER, self._primary.get_profile(sub), self._legacy.get_profile(sub)
        )

    async def is_admin(self, sub: str) -> bool:
        return await self._shadow.read(
            "admin_grant", USER, self._primary.is_admin(sub), self._legacy.is_admin(sub)
        )

    async def create_profile(
        self, sub: str, *, email: str, display_name: str
    ) -> tuple[UserProfile, bool]:
        return await self._legacy.create_profile(sub, email=email, display_name=display_name)

    async def update_display_name(self, sub: str, name: str) -> UserProfile:
        return await self._legacy.update_display_name(sub, name)

    async def grant_admin(self, sub: str, *, actor: str) -> bool:
        return await self._legacy.grant_admin(sub, actor=actor)

    async def revoke_admin(self, sub: str, *, actor: str) -> bool:
        return await self._legacy.revoke_admin(sub, actor=actor)


class DualReadFavourites:
    def __init__(
        self, primary: FavouriteRepository, legacy: LegacyFavouriteStore, shadow: ShadowReader
    ) -> None:
        self._primary = primary
        self._legacy = legacy
        self._shadow = shadow

    async def get(self, sub: str, listing_id: str) -> Favourite:
        return await self._shadow.read(
            "favourite",
            FAVOURITE,
            self._primary.get(sub, listing_id),
            self._legacy.get(sub, listing_id),
        )

    async def list(self, sub: str, *, limit: int, cursor: str | None) -> Page[Favourite]:
        return await self._shadow.read(
            "favourite_page",
            FAVOURITE,
            self._primary.list(sub, limit=limit, cursor=cursor),
            self._legacy.list(sub, limit=limit, cursor=cursor),
        )

    async def save(self, sub: str, listing_id: str) -> bool:
        return await self._legacy.save(sub, listing_id)

    async def unsave(self, sub: str, listing_id: str) -> None:
        await self._legacy.unsave(sub, listing_id)
