"""Public read use cases: each answer is a cache lookup whose loader queries DynamoDB once and
renders the body once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from cache.entry import Loaded, Lookup
from cache.readthrough import ReadThroughCache
from service import cachekeys, render
from service.errors import NotFound
from service.models.base import is_slug
from service.models.category import Category
from service.models.listing import Listing
from service.store.stores import Stores

T = TypeVar("T", Category, Listing)


class Reads:
    def __init__(self, stores: Stores, cache: ReadThroughCache, *, negative_ttl: float) -> None:
        self._stores = stores
        self._cache = cache
        self._negative_ttl = negative_ttl

    async def categories(self) -> Lookup:
        return await self._cache.get_or_load(
            cachekeys.categories_key(), [cachekeys.CATEGORIES], self._load_categories
        )

    async def category(self, ref: str) -> Lookup:
        async def load() -> Loaded:
            try:
                category = await self._resolve(
                    ref, self._stores.categories.get, self._stores.categories.get_by_slug
                )
            except NotFound:
                return self._not_found("category", ref)
            return _entity(category)

        return await self._cache.get_or_load(
            cachekeys.category_key(ref), cachekeys.category_tags(ref), load
        )

    async def category_listings(self, ref: str, *, limit: int, cursor: str | None) -> Lookup:
        async def load() -> Loaded:
            try:
                category = await self._resolve(
                    ref, self._stores.categories.get, self._stores.categories.get_by_slug
                )
            except NotFound:
                return self._not_found("category", ref)
            # A bad cursor raises BadInput here: an error, never a cached answer.
            listings = await self._stores.listings.list_by_category(
                category.id, limit=limit, cursor=cursor
            )
            return Loaded(body=render.page(listings.items, listings.next_cursor))

        return await self._cache.get_or_load(
            cachekeys.category_page_key(ref, limit, cursor), cachekeys.category_tags(ref), load
        )

    async def listing(self, ref: str) -> Lookup:
        async def load() -> Loaded:
            try:
                listing = await self._resolve(
                    ref, self._stores.listings.get, self._stores.listings.get_by_slug
                )
            except NotFound:
                return self._not_found("listing", ref)
            return _entity(listing)

        return await self._cache.get_or_load(
            cachekeys.listing_key(ref), cachekeys.listing_entry_tags(ref), load
        )

    async def _load_categories(self) -> Loaded:
        return Loaded(body=render.item_list(await self._stores.categories.list_all()))

    @staticmethod
    async def _resolve(
        ref: str, by_id: Callable[[str], Awaitable[T]], by_slug: Callable[[str], Awaitable[T]]
    ) -> T:
        # Ids come first: ULIDs never look like slugs, but the old Supabase UUIDs do.
        try:
            return await by_id(ref)
        except NotFound:
            if not is_slug(ref):
                raise
            return await by_slug(ref)

    def _not_found(self, kind: str, ref: str) -> Loaded:
        body = render.problem_body(404, "Not Found", f"no {kind} has the id or slug {ref!r}")
        return Loaded(body=body, status=404, ttl=self._negative_ttl)


def _entity(model: Category | Listing) -> Loaded:
    body = render.body(model)
    return Loaded(body=body, etag=render.entity_etag(model.version, body))
