"""The transactional outbox in Postgres (tables in service/migrate/dualwrite.sql).

A row is recorded in the legacy write's own transaction, so a committed write always has its
row and a rolled-back one never does. A row is due at `next_attempt_at`; a failed attempt
pushes that back with capped exponential backoff and jitter, and the `max_attempts`-th failure
moves the row to the dead letters.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import get_args

import asyncpg

from service.transition.legacy.changes import EntityKind, EntityRef, Recorded
from service.transition.legacy.db import Db, translated

# A fresh row waits this long before the reconciler may take it: the write that recorded it
# is about to apply it itself, and two appliers would only do the work twice.
FIRST_ATTEMPT_GRACE_S = 5.0
_MAX_ERROR_CHARS = 500


@dataclass(frozen=True, slots=True)
class Due:
    recorded: Recorded
    attempts: int


@dataclass(frozen=True, slots=True)
class Backlog:
    pending: int
    dead: int


class Outbox:
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        retry_base_s: float,
        retry_cap_s: float,
        max_attempts: int,
    ) -> None:
        self.pool = pool
        self._base = retry_base_s
        self._cap = retry_cap_s
        self.max_attempts = max_attempts

    def backoff(self, attempts: int) -> float:
        """Equal jitter: half the capped exponential delay, plus up to as much again."""
        delay = min(self._cap, self._base * 2 ** min(attempts - 1, 30))
        return float(delay / 2 + random.uniform(0, delay / 2))

    async def record(self, conn: Db, refs: Sequence[EntityRef]) -> list[Recorded]:
        rows = await conn.fetch(
            "insert into public.hustlehub_outbox (entity, entity_id, next_attempt_at)"
            " select e, i, now() + make_interval(secs => $3)"
            " from unnest($1::text[], $2::text[]) as t(e, i)"
            " returning id, entity, entity_id",
            [ref.kind for ref in refs],
            [ref.id for ref in refs],
            FIRST_ATTEMPT_GRACE_S,
        )
        return [Recorded(row["id"], _ref(row)) for row in rows]

    async def due(self, conn: Db, *, limit: int) -> list[Due]:
        """Due rows, oldest first, locked until `conn`'s transaction ends; rows another
        reconciler holds are skipped, so any number of instances may drain at once."""
        rows = await conn.fetch(
            "select id, entity, entity_id, attempts from public.hustlehub_outbox"
            " where next_attempt_at <= now() order by id limit $1 for update skip locked",
            limit,
        )
        return [Due(Recorded(row["id"], _ref(row)), row["attempts"]) for row in rows]

    async def applied(self, db: Db, entry_ids: Sequence[int]) -> None:
        await db.execute(
            "delete from public.hustlehub_outbox where id = any($1::bigint[])", list(entry_ids)
        )

    async def failed(self, conn: Db, entry_id: int, error: str) -> bool:
        """Count a failed attempt; True when that moved the row to the dead letters."""
        attempts = await conn.fetchval(
            "select attempts from public.hustlehub_outbox where id = $1 for update", entry_id
        )
        if attempts is None:  # applied meanwhile by someone else
            return False
        attempts += 1
        if attempts >= self.max_attempts:
            await conn.execute(
                "with gone as (delete from public.hustlehub_outbox where id = $1 returning *)"
                " insert into public.hustlehub_outbox_dead"
                " (id, entity, entity_id, attempts, last_error, created_at)"
                " select id, entity, entity_id, $2, $3, created_at from gone",
                entry_id,
                attempts,
                error[:_MAX_ERROR_CHARS],
            )
            return True
        await conn.execute(
            "update public.hustlehub_outbox set attempts = $2, last_error = $3,"
            " next_attempt_at = now() + make_interval(secs => $4) where id = $1",
            entry_id,
            attempts,
            error[:_MAX_ERROR_CHARS],
            self.backoff(attempts),
        )
        return False

    async def behind(self, kinds: Sequence[EntityKind]) -> bool:
        """Whether DynamoDB is known to lack some write to entities of `kinds`: a row not yet
        applied, or one given up on."""
        with translated("outbox"):
            found: bool = await self.pool.fetchval(
                "select exists (select 1 from public.hustlehub_outbox where entity = any($1))"
                " or exists (select 1 from public.hustlehub_outbox_dead where entity = any($1))",
                list(kinds),
            )
        return found

    async def backlog(self) -> Backlog:
        with translated("outbox"):
            row = await self.pool.fetchrow(
                "select (select count(*) from public.hustlehub_outbox) as pending,"
                " (select count(*) from public.hustlehub_outbox_dead) as dead"
            )
        return Backlog(pending=row["pending"], dead=row["dead"])

    async def enqueue_all(self) -> int:
        """One entry, due now, for every category, listing, linked user (and every sub holding
        a grant), favourite of a linked user and audit event Postgres holds: after a bulk load
        that may have written older states over newer ones, or to repair drift the dual-read
        comparison found. Listings before categories, so categories (their counts) apply
        last."""
        with translated("outbox"):
            queued: int = await self.pool.fetchval(
                "with ins as (insert into public.hustlehub_outbox (entity, entity_id)"
                " select 'listing', id::text from public.listings"
                " union all select 'category', id::text from public.categories"
                " union all select 'user', sub from public.hustlehub_identities"
                " union all select 'user', sub from public.hustlehub_admins a where not exists"
                "  (select 1 from public.hustlehub_identities i where i.sub = a.sub)"
                " union all select 'favourite', i.sub || '/' || f.listing_id::text"
                "  from public.favorites f join public.hustlehub_identities i"
                "  on i.user_id = f.user_id"
                " union all select 'audit', id from public.hustlehub_audit"
                " returning 1) select count(*) from ins"
            )
        return queued

    async def requeue_dead(self) -> int:
        """Move every dead letter back into the outbox, due now, attempts reset."""
        with translated("outbox"):
            async with self.pool.acquire() as conn, conn.transaction():
                moved: int = await conn.fetchval(
                    "with back as (delete from public.hustlehub_outbox_dead returning *),"
                    " ins as (insert into public.hustlehub_outbox (entity, entity_id, created_at)"
                    " select entity, entity_id, created_at from back returning 1)"
                    " select count(*) from ins"
                )
        return moved


_KINDS: dict[str, EntityKind] = {kind: kind for kind in get_args(EntityKind)}


def _ref(row: asyncpg.Record) -> EntityRef:
    return EntityRef(_KINDS[row["entity"]], row["entity_id"])
