"""Listings in the legacy Postgres, behind the same methods as the DynamoDB ListingStore.

Pages use the DynamoDB store's cursors: the signed key of the last listing's copy in its
category partition (`CATEGORY#<id>` / `LISTING#<createdAt>#<id>`). Both stores order a page by
(createdAt, id) descending, so a cursor either one issued continues the same list in the other,
and switching phases does not break a client paging through a category.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from service.errors import BadInput, Conflict, NotFound, VersionMismatch
from service.models.audit import entity_event
from service.models.listing import Listing, ListingCreate, ListingPatch
from service.models.page import Page
from service.store import keys
from service.store.copies import listing_copy_key, unknown_category
from service.transition.legacy.audit import record_event
from service.transition.legacy.changes import EntityRef, unique
from service.transition.legacy.db import Db, translated
from service.transition.legacy.ids import as_uuid, new_id
from service.transition.legacy.repository import LegacyRepository

SELECT = """
select l.id::text as id, l.slug, l.title, l.summary, l.description,
       l.category_id::text as category_id, c.slug as category_slug, c.name as category_name,
       l.location, l.remote, l.skills, l.income_min, l.income_max, l.income_currency,
       l.income_period, l.url, l.image_url, l.version, l.created_at, l.updated_at
from public.listings l join public.categories c on c.id = l.category_id
"""
# $1 is the id; $2.. are `_values` in this column order.
INSERT = """
insert into public.listings (id, slug, title, summary, description, category_id, location,
    remote, skills, income_min, income_max, income_currency, income_period, url, image_url,
    version, created_at, updated_at)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
"""
UPDATE = """
update public.listings set (slug, title, summary, description, category_id, location,
    remote, skills, income_min, income_max, income_currency, income_period, url, image_url,
    version, created_at, updated_at)
  = ($2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
where id = $1
"""

PAGE = SELECT + " where l.category_id = $1 order by l.created_at desc, l.id desc limit $2"
PAGE_AFTER = (
    SELECT + " where l.category_id = $1 and (l.created_at, l.id) < ($3, $4)"
    " order by l.created_at desc, l.id desc limit $2"
)


def listing_from(row: asyncpg.Record) -> Listing:
    return Listing(
        id=row["id"],
        slug=row["slug"],
        title=row["title"],
        summary=row["summary"],
        description=row["description"],
        category_id=row["category_id"],
        category_slug=row["category_slug"],
        category_name=row["category_name"],
        location=row["location"],
        remote=row["remote"],
        skills=list(row["skills"]),
        income_potential={
            "min": row["income_min"],
            "max": row["income_max"],
            "currency": row["income_currency"],
            "period": row["income_period"],
        },
        url=row["url"],
        image_url=row["image_url"],
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _values(listing: Listing) -> list[Any]:
    income = listing.income_potential
    return [
        listing.slug,
        listing.title,
        listing.summary,
        listing.description,
        as_uuid(listing.category_id),
        listing.location,
        listing.remote,
        listing.skills,
        income.min,
        income.max,
        income.currency,
        income.period,
        listing.url,
        listing.image_url,
        listing.version,
        listing.created_at,
        listing.updated_at,
    ]


async def fetch_listing(db: Db, listing_id: str, *, lock: bool = False) -> Listing | None:
    key = as_uuid(listing_id)
    if key is None:
        return None
    row = await db.fetchrow(SELECT + " where l.id = $1" + (" for update of l" if lock else ""), key)
    return None if row is None else listing_from(row)


async def _category_names(conn: Db, category_id: str) -> tuple[str, str] | None:
    # FOR KEY SHARE: the category cannot be deleted under a listing being put in it.
    key = as_uuid(category_id)
    row = None
    if key is not None:
        row = await conn.fetchrow(
            "select slug, name from public.categories where id = $1 for key share", key
        )
    return None if row is None else (row["slug"], row["name"])


class LegacyListingStore(LegacyRepository):
    async def get(self, listing_id: str, *, consistent: bool = False) -> Listing:
        with translated("get listing"):
            found = await fetch_listing(self._pool, listing_id)
        if found is None:
            raise NotFound(f"listing {listing_id!r} not found")
        return found

    async def get_by_slug(self, slug: str, *, consistent: bool = False) -> Listing:
        with translated("get listing"):
            row = await self._pool.fetchrow(SELECT + " where l.slug = $1", slug)
        if row is None:
            raise NotFound(f"listing {slug!r} not found")
        return listing_from(row)

    async def list_by_category(
        self, category_id: str, *, limit: int, cursor: str | None
    ) -> Page[Listing]:
        """Newest first. Does not check that the category exists: an unknown one is empty."""
        if not 1 <= limit <= 1000:
            raise BadInput("limit out of range")
        partition = keys.listings_of(category_id)
        scope = f"listings:{partition}"
        after = self._after(scope, partition, cursor) if cursor is not None else None
        key = as_uuid(category_id)
        if key is None:
            return Page(items=[], next_cursor=None)
        # One more than asked for: its presence says a next page exists.
        with translated("list listings"):
            if after is None:
                rows = await self._pool.fetch(PAGE, key, limit + 1)
            else:
                rows = await self._pool.fetch(PAGE_AFTER, key, limit + 1, *after)
        items = [listing_from(row) for row in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            next_cursor = self._cursors.encode_key(scope, listing_copy_key(items[-1]))
        return Page(items=items, next_cursor=next_cursor)

    async def chunk_in_category(
        self, category_id: str, *, older_than: str | None, limit: int
    ) -> list[Listing]:
        """As the DynamoDB store's: up to `limit + 1` listings after the sort key
        `older_than` (createdAt#id), newest first."""
        key = as_uuid(category_id)
        if key is None:
            return []
        with translated("list listings"):
            if older_than is None:
                rows = await self._pool.fetch(PAGE, key, limit + 1)
            else:
                after = _sort_key_bound(older_than)
                if after is None:
                    raise BadInput("invalid sort key")
                rows = await self._pool.fetch(PAGE_AFTER, key, limit + 1, *after)
        return [listing_from(row) for row in rows]

    def _after(self, scope: str, partition: str, cursor: str) -> tuple[datetime, Any]:
        start = self._cursors.decode_key(scope, cursor, attrs=keys.TABLE_KEYS)
        if start[keys.PK]["S"] != partition:
            raise BadInput("invalid cursor")
        created, _, listing_id = (
            start[keys.SK]["S"].removeprefix(keys.LISTING_PREFIX).rpartition("#")
        )
        try:
            at = datetime.fromisoformat(created)
        except ValueError as exc:
            raise BadInput("invalid cursor") from exc
        key = as_uuid(listing_id)
        if key is None:
            raise BadInput("invalid cursor")
        return at, key

    async def create(self, data: ListingCreate, *, actor: str) -> Listing:
        now = self._clock()
        with translated("create listing"):
            async with self._pool.acquire() as conn, conn.transaction():
                names = await _category_names(conn, data.category_id)
                if names is None:  # first: an unknown category (422) outranks a taken slug
                    raise unknown_category(data.category_id)
                listing = Listing.model_validate(
                    {
                        **data.model_dump(mode="json"),
                        "id": new_id(),
                        "category_slug": names[0],
                        "category_name": names[1],
                        "version": 1,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                try:
                    await conn.execute(
                        INSERT,
                        as_uuid(listing.id),
                        *_values(listing),
                    )
                except asyncpg.UniqueViolationError as exc:
                    raise Conflict(f"slug {listing.slug!r} is taken") from exc
                refs = [
                    EntityRef("listing", listing.id),
                    EntityRef("category", listing.category_id),
                    await record_event(conn, entity_event("create", listing, at=now, actor=actor)),
                ]
                recorded = await self._replication.record(conn, refs)
        await self._replication.push(recorded)
        return listing

    async def update(
        self, listing_id: str, patch: ListingPatch, *, expected_version: int, actor: str
    ) -> tuple[Listing, Listing]:
        with translated("update listing"):
            async with self._pool.acquire() as conn, conn.transaction():
                before = await fetch_listing(conn, listing_id, lock=True)
                if before is None:
                    raise NotFound(f"listing {listing_id!r} not found")
                if before.version != expected_version:
                    raise VersionMismatch(f"listing {listing_id!r} is at another version")
                sent = patch.model_dump(mode="json", exclude_unset=True)
                # null clears the optional links; for every other field null means "leave".
                changes = {
                    k: v for k, v in sent.items() if v is not None or k in ("url", "image_url")
                }
                target = changes.get("category_id", before.category_id)
                moving = target != before.category_id
                denormalised: dict[str, str] = {}
                if moving:
                    names = await _category_names(conn, target)
                    if names is None:
                        raise unknown_category(target)
                    denormalised = {"category_slug": names[0], "category_name": names[1]}
                after = Listing.model_validate(
                    {
                        **before.model_dump(),
                        **changes,
                        **denormalised,
                        "version": before.version + 1,
                        "updated_at": self._clock(),
                    }
                )
                try:
                    await conn.execute(
                        UPDATE,
                        as_uuid(listing_id),
                        *_values(after),
                    )
                except asyncpg.UniqueViolationError as exc:
                    raise Conflict(f"slug {after.slug!r} is taken") from exc
                refs = [EntityRef("listing", listing_id)]
                if moving:  # both categories' listing counts changed
                    refs += [
                        EntityRef("category", before.category_id),
                        EntityRef("category", after.category_id),
                    ]
                refs.append(
                    await record_event(
                        conn, entity_event("update", after, at=after.updated_at, actor=actor)
                    )
                )
                recorded = await self._replication.record(conn, unique(refs))
        await self._replication.push(recorded)
        return before, after

    async def delete(self, listing_id: str, *, actor: str) -> Listing:
        with translated("delete listing"):
            async with self._pool.acquire() as conn, conn.transaction():
                before = await fetch_listing(conn, listing_id, lock=True)
                if before is None:
                    raise NotFound(f"listing {listing_id!r} not found")
                # Its favorites go with it (on delete cascade).
                await conn.execute("delete from public.listings where id = $1", as_uuid(listing_id))
                refs = [
                    EntityRef("listing", listing_id),
                    EntityRef("category", before.category_id),
                    await record_event(
                        conn, entity_event("delete", before, at=self._clock(), actor=actor)
                    ),
                ]
                recorded = await self._replication.record(conn, refs)
        await self._replication.push(recorded)
        return before


def _sort_key_bound(sort_key: str) -> tuple[datetime, Any] | None:
    """(created_at, id) of a sort key createdAt#id, or None if it is not one."""
    created, _, listing_id = sort_key.rpartition("#")
    try:
        at = datetime.fromisoformat(created)
    except ValueError:
        return None
    key = as_uuid(listing_id)
    return None if key is None else (at, key)
