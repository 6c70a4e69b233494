"""Categories in the legacy Postgres, behind the same methods as the DynamoDB CategoryStore.

listingCount is not stored in Postgres: it is counted with the row, in the same statement.
Every write records the entities it changed (changes.py) in its own transaction.
"""

from __future__ import annotations

import asyncpg

from service.errors import Conflict, NotFound, VersionMismatch
from service.models.audit import entity_event
from service.models.category import Category, CategoryCreate, CategoryPatch
from service.transition.legacy.audit import record_event
from service.transition.legacy.changes import EntityRef
from service.transition.legacy.db import Db, translated
from service.transition.legacy.ids import as_uuid, new_id
from service.transition.legacy.repository import LegacyRepository

SELECT = """
select c.id::text as id, c.slug, c.name, c.description, c.sort_order, c.version,
       c.created_at, c.updated_at,
       (select count(*) from public.listings l where l.category_id = c.id) as listing_count
from public.categories c
"""


def category_from(row: asyncpg.Record) -> Category:
    return Category(
        id=row["id"],
        slug=row["slug"],
        name=row["name"],
        description=row["description"],
        sort_order=row["sort_order"],
        listing_count=row["listing_count"],
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def fetch_category(db: Db, category_id: str, *, lock: bool = False) -> Category | None:
    key = as_uuid(category_id)
    if key is None:
        return None
    row = await db.fetchrow(SELECT + " where c.id = $1" + (" for update" if lock else ""), key)
    return None if row is None else category_from(row)


def sorted_categories(categories: list[Category]) -> list[Category]:
    # The DynamoDB store's contract: sortOrder, then name (case-folded), then id.
    return sorted(categories, key=lambda c: (c.sort_order, c.name.casefold(), c.id))


class LegacyCategoryStore(LegacyRepository):
    async def list_all(self) -> list[Category]:
        with translated("list categories"):
            rows = await self._pool.fetch(SELECT)
        return sorted_categories([category_from(row) for row in rows])

    async def get(self, category_id: str, *, consistent: bool = False) -> Category:
        with translated("get category"):
            found = await fetch_category(self._pool, category_id)
        if found is None:
            raise NotFound(f"category {category_id!r} not found")
        return found

    async def get_by_slug(self, slug: str, *, consistent: bool = False) -> Category:
        with translated("get category"):
            row = await self._pool.fetchrow(SELECT + " where c.slug = $1", slug)
        if row is None:
            raise NotFound(f"category {slug!r} not found")
        return category_from(row)

    async def create(self, data: CategoryCreate, *, actor: str) -> Category:
        now = self._clock()
        category = Category(
            **data.model_dump(),
            id=new_id(),
            listing_count=0,
            version=1,
            created_at=now,
            updated_at=now,
        )
        with translated("create category"):
            async with self._pool.acquire() as conn, conn.transaction():
                try:
                    await conn.execute(
                        "insert into public.categories (id, slug, name, description, sort_order,"
                        " version, created_at, updated_at) values ($1, $2, $3, $4, $5, 1, $6, $6)",
                        as_uuid(category.id),
                        category.slug,
                        category.name,
                        category.description,
                        category.sort_order,
                        now,
                    )
                except asyncpg.UniqueViolationError as exc:
                    raise Conflict(f"slug {category.slug!r} is taken") from exc
                event = await record_event(
                    conn, entity_event("create", category, at=now, actor=actor)
                )
                recorded = await self._replication.record(
                    conn, [EntityRef("category", category.id), event]
                )
        await self._replication.push(recorded)
        return category

    async def update(
        self, category_id: str, patch: CategoryPatch, *, expected_version: int, actor: str
    ) -> tuple[Category, Category]:
        with translated("update category"):
            async with self._pool.acquire() as conn, conn.transaction():
                before = await fetch_category(conn, category_id, lock=True)
                if before is None:
                    raise NotFound(f"category {category_id!r} not found")
                if before.version != expected_version:
                    raise VersionMismatch(f"category {category_id!r} is at another version")
                changes = {k: v for k, v in patch.changes().items() if v is not None}
                after = Category.model_validate(
                    {
                        **before.model_dump(),
                        **changes,
                        "version": before.version + 1,
                        "updated_at": self._clock(),
                    }
                )
                try:
                    await conn.execute(
                        "update public.categories set slug = $2, name = $3, description = $4,"
                        " sort_order = $5, version = $6, updated_at = $7 where id = $1",
                        as_uuid(category_id),
                        after.slug,
                        after.name,
                        after.description,
                        after.sort_order,
                        after.version,
                        after.updated_at,
                    )
                except asyncpg.UniqueViolationError as exc:
                    raise Conflict(f"slug {after.slug!r} is taken") from exc
                refs = [EntityRef("category", category_id)]
                if (before.slug, before.name) != (after.slug, after.name):
                    # DynamoDB's listings carry their category's slug and name.
                    rows = await conn.fetch(
                        "select id::text from public.listings where category_id = $1",
                        as_uuid(category_id),
                    )
                    refs += [EntityRef("listing", row["id"]) for row in rows]
                refs.append(
                    await record_event(
                        conn, entity_event("update", after, at=after.updated_at, actor=actor)
                    )
                )
                recorded = await self._replication.record(conn, refs)
        await self._replication.push(recorded)
        return before, after

    async def delete(self, category_id: str, *, actor: str) -> Category:
        with translated("delete category"):
            async with self._pool.acquire() as conn, conn.transaction():
                before = await fetch_category(conn, category_id, lock=True)
                if before is None:
                    raise NotFound(f"category {category_id!r} not found")
                try:
                    await conn.execute(
                        "delete from public.categories where id = $1", as_uuid(category_id)
                    )
                except asyncpg.ForeignKeyViolationError as exc:
                    # The row lock does not stop a listing being added: the key does.
                    raise Conflict(f"category {category_id!r} still has listings") from exc
                event = await record_event(
                    conn, entity_event("delete", before, at=self._clock(), actor=actor)
                )
                recorded = await self._replication.record(
                    conn, [EntityRef("category", category_id), event]
                )
        await self._replication.push(recorded)
        return before
