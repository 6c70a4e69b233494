"""Favourites in the legacy Postgres (`public.favorites`), behind the same methods as the
DynamoDB FavouriteStore.

Pages use the DynamoDB store's cursors (the signed key of the last favourite item,
`USER#<sub>` / `RELATION#FAVOURITE#<listingId>`) and its order (listing id), so a client
paging through its favourites across a phase switch carries on. Supabase's favourites need a
profile (a foreign key): a sub that has none gets an empty one on its first save, which is
mirrored like any other profile.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from service.errors import BadInput, NotFound
from service.models.favourite import Favourite
from service.models.listing import ListingSummary
from service.models.page import Page
from service.store import keys
from service.store.favourites import cursor_scope
from service.transition.legacy.changes import favourite_ref, unique
from service.transition.legacy.db import Db, translated
from service.transition.legacy.identities import lock_sub, user_id_of
from service.transition.legacy.ids import as_uuid
from service.transition.legacy.repository import LegacyRepository
from service.transition.legacy.users import ensure_profile

SELECT = """
select f.listing_id::text as listing_id, f.created_at as saved_at, l.slug, l.title, l.summary,
       c.slug as category_slug, l.location, l.remote, l.image_url
from public.hustlehub_identities i
join public.favorites f on f.user_id = i.user_id
join public.listings l on l.id = f.listing_id
join public.categories c on c.id = l.category_id
where i.sub = $1
"""
ONE = SELECT + " and f.listing_id = $2"
PAGE = SELECT + " and f.listing_id > $3 order by f.listing_id limit $2"
# The smallest uuid: every listing id sorts after it.
_FIRST = uuid.UUID(int=0)


def favourite_from(row: asyncpg.Record) -> Favourite:
    return Favourite(
        listing_id=row["listing_id"],
        saved_at=row["saved_at"],
        listing=ListingSummary(
            id=row["listing_id"],
            slug=row["slug"],
            title=row["title"],
            summary=row["summary"],
            category_slug=row["category_slug"],
            location=row["location"],
            remote=row["remote"],
            image_url=row["image_url"],
        ),
    )


async def fetch_saved(db: Db, sub: str, listing_id: str) -> datetime | None:
    """When `sub` saved `listing_id`, or None."""
    key = as_uuid(listing_id)
    if key is None:
        return None
    saved: datetime | None = await db.fetchval(
        "select f.created_at from public.favorites f join public.hustlehub_identities i"
        " on i.user_id = f.user_id where i.sub = $1 and f.listing_id = $2",
        sub,
        key,
    )
    return saved


class LegacyFavouriteStore(LegacyRepository):
    async def save(self, sub: str, listing_id: str) -> bool:
        """True when newly saved, False when it already was; NotFound for an unknown listing."""
        key = as_uuid(listing_id)
        now = self._clock()
        with translated("save favourite"):
            async with self._pool.acquire() as conn, conn.transaction():
                # FOR KEY SHARE: the listing cannot be deleted under the favourite.
                if key is None or not await conn.fetchval(
                    "select true from public.listings where id = $1 for key share", key
                ):
                    raise NotFound(f"listing {listing_id!r} not found")
                _, refs, _ = await ensure_profile(conn, sub, email="", display_name="", now=now)
                inserted = await conn.fetchval(
                    "insert into public.favorites (user_id, listing_id, created_at)"
                    " select user_id, $2, $3 from public.hustlehub_identities where sub = $1"
                    " on conflict do nothing returning true",
                    sub,
                    key,
                    now,
                )
                if inserted:
                    refs = unique([*refs, favourite_ref(sub, listing_id)])
                recorded = await self._replication.record(conn, refs) if refs else []
        await self._replication.push(recorded)
        return bool(inserted)

    async def unsave(self, sub: str, listing_id: str) -> None:
        key = as_uuid(listing_id)
        if key is None:
            return  # no listing has that id, so no favourite does
        with translated("unsave favourite"):
            async with self._pool.acquire() as conn, conn.transaction():
                await lock_sub(conn, sub)
                user_id = await user_id_of(conn, sub)
                deleted = user_id is not None and await conn.fetchval(
                    "delete from public.favorites where user_id = $1 and listing_id = $2"
                    " returning true",
                    user_id,
                    key,
                )
                if not deleted:
                    return
                recorded = await self._replication.record(conn, [favourite_ref(sub, listing_id)])
        await self._replication.push(recorded)

    async def get(self, sub: str, listing_id: str) -> Favourite:
        key = as_uuid(listing_id)
        row = None
        if key is not None:
            with translated("get favourite"):
                row = await self._pool.fetchrow(ONE, sub, key)
        if row is None:
            raise NotFound(f"listing {listing_id!r} is not a favourite")
        return favourite_from(row)

    async def list(self, sub: str, *, limit: int, cursor: str | None) -> Page[Favourite]:
        """Ordered by listing id, as the DynamoDB store's."""
        if not 1 <= limit <= 100:
            raise BadInput("limit out of range")
        scope = cursor_scope(sub)
        after = _FIRST if cursor is None else self._after(scope, sub, cursor)
        with translated("list favourites"):
            rows = await self._pool.fetch(PAGE, sub, limit + 1, after)
        items = [favourite_from(row) for row in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:  # one more than asked for: a next page exists
            last = keys.favourite(sub, items[-1].listing_id)
            next_cursor = self._cursors.encode_key(scope, last)
        return Page(items=items, next_cursor=next_cursor)

    def _after(self, scope: str, sub: str, cursor: str) -> uuid.UUID:
        start = self._cursors.decode_key(scope, cursor, attrs=keys.TABLE_KEYS)
        if start[keys.PK]["S"] != keys.favourites_of(sub):
            raise BadInput("invalid cursor")
        key = as_uuid(start[keys.SK]["S"].removeprefix(keys.FAVOURITE_PREFIX))
        if key is None:
            raise BadInput("invalid cursor")
        return key
