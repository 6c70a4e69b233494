"""The listings a signed-in user has saved. Every call names the user: none reaches another's."""

from __future__ import annotations

from service.models.favourite import Favourite
from service.models.page import Page
from service.store.repositories import FavouriteRepository


class Favourites:
    def __init__(self, favourites: FavouriteRepository) -> None:
        self._favourites = favourites

    async def page(self, sub: str, *, limit: int, cursor: str | None) -> Page[Favourite]:
        return await self._favourites.list(sub, limit=limit, cursor=cursor)

    async def get(self, sub: str, listing_id: str) -> Favourite:
        return await self._favourites.get(sub, listing_id)

    async def save(self, sub: str, listing_id: str) -> tuple[Favourite, bool]:
        """The saved favourite, and True when this call saved it (idempotent)."""
        created = await self._favourites.save(sub, listing_id)
        return await self._favourites.get(sub, listing_id), created

    async def unsave(self, sub: str, listing_id: str) -> None:
        await self._favourites.unsave(sub, listing_id)
