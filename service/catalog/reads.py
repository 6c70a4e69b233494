"""Public read use cases: each answer is a cache lookup whose loader reads DynamoDB once
(strongly consistent) and renders the body once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from cache import Loaded, Lookup, ReadThroughCache
from metrics import waits
from service.catalog import cachekeys, render
from service.catalog.deadline import Deadline
from service.catalog.filtered_pages import FilteredPages
from service.catalog.listing_filter import ListingFilter
from service.errors import NotFound
from service.models.base import is_ref, is_slug
from service.models.category import Category
from service.models.listing import Listing
from service.store.stores import Stores

T = TypeVar("T", Category, Listing)
T_co = TypeVar("T_co", Category, Listing, covariant=True)


class EntityFetch(Protocol[T_co]):
    def __call__(self, ref: str, /, *, consistent: bool) -> Awaitable[T_co]: ...


class Reads:
    """Each read first peeks at the in-process layer (no await, no allocation beyond the
    answer): that is the hot path. Only a miss checks the ref, builds tags and a loader, and
    only a miss can wait on I/O, so the request deadline is applied there (see
    service.catalog.deadline). (A ref that could name nothing is never filled, so it can
    never be a hit.)"""

    def __init__(
        self, stores: Stores, cache: ReadThroughCache, *, negative_ttl: float, deadline_s: float
    ) -> None:
        self._stores = stores
        self._cache = cache
        self._negative_ttl = negative_ttl
        self._deadline = Deadline(deadline_s)
        self._filtered = FilteredPages(stores, cache, self._fill)

    # The hot path: a fresh in-process copy, or None (then the async read of the same name).
    def fresh_categories(self) -> Lookup | None:
        return self._cache.peek(cachekeys.categories_key())

    def fresh_category(self, ref: str) -> Lookup | None:
        return self._cache.peek(cachekeys.category_key(ref))

    def fresh_category_listings(self, ref: str, *, limit: int, cursor: str | None) -> Lookup | None:
        return self._cache.peek(cachekeys.category_page_key(ref, limit, cursor))

    def fresh_first_page(self, ref: str) -> Lookup | None:
        """fresh_category_listings(ref, limit=DEFAULT_PAGE_LIMIT, cursor=None)."""
        return self._cache.peek(cachekeys.first_page_key(ref))

    def fresh_listing(self, ref: str) -> Lookup | None:
        return self._cache.peek(cachekeys.listing_key(ref))

    async def categories(self) -> Lookup:
        key = cachekeys.categories_key()
        return self._cache.peek(key) or await self._fill(
            key, [cachekeys.CATEGORIES], self._load_categories
        )

    async def category(self, ref: str) -> Lookup:
        key = cachekeys.category_key(ref)
        return self._cache.peek(key) or await self._fill(
            key,
            cachekeys.category_tags(_checked("category", ref)),
            self._loader("category", ref, self._category, _entity),
        )

    async def category_listings(self, ref: str, *, limit: int, cursor: str | None) -> Lookup:
        key = cachekeys.category_page_key(ref, limit, cursor)
        return self._cache.peek(key) or await self._fill_page(key, ref, limit, cursor)

    async def _fill_page(self, key: str, ref: str, limit: int, cursor: str | None) -> Lookup:
        async def page(category: Category) -> Loaded:
            # A bad cursor raises BadInput here: an error, never a cached answer.
            found = await self._stores.listings.list_by_category(
                category.id, limit=limit, cursor=cursor
            )
            body = render.page(found.items, found.next_cursor)
            return Loaded(body=body, encodings=render.encodings(body))

        return await self._fill(
            key,
            cachekeys.category_tags(_checked("category", ref)),
            self._loader("category", ref, self._category, page),
        )

    async def filtered_category_listings(
        self, ref: str, wanted: ListingFilter, *, limit: int, cursor: str | None
    ) -> Lookup:
        """A page of the listings matching `wanted`, computed from the category's cached
        chunks (service.catalog.category_rows, service.catalog.filtered_pages): entries and
        loads per chunk of the category, whatever the filter. The answer has the oldest
        source and freshness of the chunks it read, and an ETag of its own."""
        tags = cachekeys.category_tags(_checked("category", ref))
        key = cachekeys.category_chunk_key(ref, 0)

        async def first() -> Lookup:
            return self._cache.peek(key) or await self._fill(
                key, tags, self._loader("category", ref, self._category, self._filtered.load_first)
            )

        return await self._filtered.page(ref, tags, first, wanted, limit=limit, cursor=cursor)

    async def listing(self, ref: str) -> Lookup:
        key = cachekeys.listing_key(ref)
        return self._cache.peek(key) or await self._fill(
            key,
            cachekeys.listing_entry_tags(_checked("listing", ref)),
            self._loader("listing", ref, self._listing, _entity),
        )

    async def _fill(
        self, key: str, tags: list[str], loader: Callable[[], Awaitable[Loaded]]
    ) -> Lookup:
        # Past the in-process layer: Redis, and on a miss DynamoDB (metrics.waits).
        with waits.waited():
            return await self._deadline.run(self._cache.get_or_load(key, tags, loader))

    async def _load_categories(self) -> Loaded:
        body = render.item_list(await self._stores.categories.list_all())
        return Loaded(body=body, encodings=render.encodings(body))

    def _loader(
        self,
        kind: str,
        ref: str,
        find: Callable[[str], Awaitable[T]],
        render_found: Callable[[T], Awaitable[Loaded]],
    ) -> Callable[[], Awaitable[Loaded]]:
        async def load() -> Loaded:
            try:
                found = await find(ref)
            except NotFound:
                body = render.problem_body(
                    404, "Not Found", f"no {kind} has the id or slug {ref!r}"
                )
                return Loaded(body=body, status=404, ttl=self._negative_ttl)
            return await render_found(found)

        return load

    async def _category(self, ref: str) -> Category:
        categories = self._stores.categories
        return await _resolve(ref, categories.get, categories.get_by_slug)

    async def _listing(self, ref: str) -> Listing:
        listings = self._stores.listings
        return await _resolve(ref, listings.get, listings.get_by_slug)


def _checked(kind: str, ref: str) -> str:
    """`ref` if it could name an entity; else the 404 it is, never cached."""
    if not is_ref(ref):
        raise NotFound(f"no {kind} has the id or slug {ref[:80]!r}")
    return ref


async def _resolve(ref: str, by_id: EntityFetch[T], by_slug: EntityFetch[T]) -> T:
    # Strongly consistent: what a loader reads becomes a fresh cache entry, so an eventually
    # consistent read just after a write could cache pre-write data.
    if not is_slug(ref):
        return await by_id(ref, consistent=True)
    # A slug-shaped ref may still be an id (the old Supabase UUIDs look like slugs), and the
    # id wins. Both lookups go out at once: one after the other, a slug (what the frontend's
    # URLs carry) would wait for an id lookup that misses before its own two reads began.
    as_id, as_slug = await asyncio.gather(
        by_id(ref, consistent=True), by_slug(ref, consistent=True), return_exceptions=True
    )
    if not isinstance(as_id, BaseException):
        return as_id
    if not isinstance(as_id, NotFound):
        raise as_id
    if isinstance(as_slug, BaseException):
        raise as_slug
    return as_slug


async def _entity(model: Category | Listing) -> Loaded:
    body = render.body(model)
    etag = render.entity_etag(model.version, body)
    return Loaded(body=body, etag=etag, encodings=render.encodings(body))
