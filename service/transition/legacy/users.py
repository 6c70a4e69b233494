"""User profiles and admin grants in the legacy Postgres, behind the same methods as the
DynamoDB UserStore.

A profile is `public.profiles`, found through the caller's sub (identities.py); a grant is a
`hustlehub_admins` row, mirrored onto `profiles.is_admin` for a linked user. Every write
records the user (`EntityRef("user", sub)`) in its own transaction, as the catalogue's do.
Grants and revocations record their audit events as the catalogue's writes do (audit.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import asyncpg

from service.errors import NotFound
from service.models.audit import grant_event
from service.models.user import UserProfile
from service.transition.legacy.audit import record_event
from service.transition.legacy.changes import EntityRef, unique
from service.transition.legacy.db import Db, translated
from service.transition.legacy.identities import ensure_user, lock_sub, user_id_of
from service.transition.legacy.repository import LegacyRepository

PROFILE = """
select i.sub, i.user_id, p.email, p.display_name, p.created_at, p.updated_at,
       exists (select 1 from public.hustlehub_admins a where a.sub = i.sub) as is_admin
from public.hustlehub_identities i join public.profiles p on p.id = i.user_id
where i.sub = $1
"""


def profile_from(row: asyncpg.Record) -> UserProfile:
    return UserProfile(
        sub=row["sub"],
        email=row["email"],
        display_name=row["display_name"],
        is_admin=row["is_admin"],
        created_at=row["created_at"],
    )


async def fetch_profile(db: Db, sub: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await db.fetchrow(PROFILE, sub)
    return row


async def fetch_grant(db: Db, sub: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await db.fetchrow(
        "select granted_at, granted_by from public.hustlehub_admins where sub = $1", sub
    )
    return row


async def ensure_profile(
    conn: Db, sub: str, *, email: str, display_name: str, now: datetime
) -> tuple[UserProfile, list[EntityRef], bool]:
    """The profile of `sub`, created (with its Supabase user, if need be) when absent; the
    entities DynamoDB now lacks; whether it was created."""
    user_id, claimed = await ensure_user(conn, sub, email=email)
    existing = await fetch_profile(conn, sub)
    if existing is not None:
        return profile_from(existing), claimed, False
    await conn.execute(
        "insert into public.profiles (id, email, display_name, is_admin, created_at, updated_at)"
        " values ($1, $2, $3,"
        " exists (select 1 from public.hustlehub_admins where sub = $4), $5, $5)",
        user_id,
        email,
        display_name,
        sub,
        now,
    )
    created = await fetch_profile(conn, sub)
    assert created is not None  # inserted just above, in this transaction
    return profile_from(created), unique([*claimed, EntityRef("user", sub)]), True


class LegacyUserStore(LegacyRepository):
    async def create_profile(
        self, sub: str, *, email: str, display_name: str
    ) -> tuple[UserProfile, bool]:
        """Idempotent: an existing profile is returned untouched, with created=False."""
        with translated("create profile"):
            async with self._pool.acquire() as conn, conn.transaction():
                profile, refs, created = await ensure_profile(
                    conn, sub, email=email, display_name=display_name, now=self._clock()
                )
                recorded = await self._replication.record(conn, refs) if refs else []
        await self._replication.push(recorded)
        return profile, created

    async def get_profile(self, sub: str) -> UserProfile:
        with translated("get profile"):
            row = await fetch_profile(self._pool, sub)
        if row is None:
            raise NotFound(f"no profile for {sub!r}")
        return profile_from(row)

    async def update_display_name(self, sub: str, name: str) -> UserProfile:
        with translated("update profile"):
            async with self._pool.acquire() as conn, conn.transaction():
                await lock_sub(conn, sub)
                updated = await conn.execute(
                    "update public.profiles set display_name = $2, updated_at = $3"
                    " where id = (select user_id from public.hustlehub_identities where sub = $1)",
                    sub,
                    name,
                    self._clock(),
                )
                if updated == "UPDATE 0":
                    raise NotFound(f"no profile for {sub!r}")
                row = await fetch_profile(conn, sub)
                recorded = await self._replication.record(conn, [EntityRef("user", sub)])
        await self._replication.push(recorded)
        assert row is not None  # updated just above, in this transaction
        return profile_from(row)

    async def is_admin(self, sub: str) -> bool:
        with translated("check admin"):
            found: bool = await self._pool.fetchval(
                "select exists (select 1 from public.hustlehub_admins where sub = $1)", sub
            )
        return found

    async def grant_admin(self, sub: str, *, actor: str) -> bool:
        """Idempotent; True when this call granted it."""
        return await self._set_admin(
            sub,
            "grant",
            actor,
            "insert into public.hustlehub_admins (sub, granted_at, granted_by)"
            " values ($1, $2, $3) on conflict do nothing returning sub",
            self._clock(),
            actor,
        )

    async def revoke_admin(self, sub: str, *, actor: str) -> bool:
        """Idempotent; True when this call revoked it."""
        return await self._set_admin(
            sub, "revoke", actor, "delete from public.hustlehub_admins where sub = $1 returning sub"
        )

    async def _set_admin(
        self,
        sub: str,
        action: Literal["grant", "revoke"],
        actor: str,
        statement: str,
        *args: object,
    ) -> bool:
        with translated("admin grant"):
            async with self._pool.acquire() as conn, conn.transaction():
                await lock_sub(conn, sub)
                if await conn.fetchval(statement, sub, *args) is None:
                    return False  # already as asked: nothing changed, nothing to mirror
                user_id = await user_id_of(conn, sub)
                if user_id is not None:
                    await conn.execute(
                        "update public.profiles set is_admin = exists"
                        " (select 1 from public.hustlehub_admins where sub = $2) where id = $1",
                        user_id,
                        sub,
                    )
                event = await record_event(
                    conn, grant_event(action, sub, at=self._clock(), actor=actor)
                )
                recorded = await self._replication.record(conn, [EntityRef("user", sub), event])
        await self._replication.push(recorded)
        return True
