"""Cognito sub <-> Supabase user id, in the legacy Postgres (`hustlehub_identities`).

Supabase keys profiles and favourites by its own user id; the service knows the caller's sub.
The operator links the users the transform mapped before the first legacy phase starts
(`link`); a sub the service meets unlinked is linked on its first write (`ensure_user`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from service.transition.legacy.changes import EntityRef, favourite_ref
from service.transition.legacy.db import Db

GRANTED_BY = "supabase-migration"  # as the transform's grants (service.migrate.transform)
# auth.users.email is unique and required; a Cognito user whose email the service was not told
# (PUT /v1/me carries none), or whose email a linked Supabase user holds, gets an address in
# the reserved .invalid domain (RFC 2606).
_NO_EMAIL_DOMAIN = "cognito.invalid"


@dataclass(frozen=True, slots=True)
class Linked:
    linked: int
    already: int
    # Supabase ids with no auth.users row, and pairs refused because the sub or the user is
    # linked otherwise: reported, never overwritten.
    unknown: list[str]
    conflicting: list[str]


async def user_id_of(db: Db, sub: str) -> uuid.UUID | None:
    found: uuid.UUID | None = await db.fetchval(
        "select user_id from public.hustlehub_identities where sub = $1", sub
    )
    return found


async def lock_sub(conn: Db, sub: str) -> None:
    """Serialises this transaction with every other write for `sub`: two first writes of one
    new user must not each add an auth.users row."""
    await conn.execute(
        "select pg_advisory_xact_lock(hashtextextended($1, 0))", f"hustlehub-sub:{sub}"
    )


async def ensure_user(conn: Db, sub: str, *, email: str) -> tuple[uuid.UUID, list[EntityRef]]:
    """The Supabase user id of `sub`, linking one first if needed, under `lock_sub`.

    An unlinked sub claims the unlinked Supabase user with the same email (case-insensitive,
    as the transform's Cognito mapping matches), else gets a new auth.users row. Returns the
    entities a claim makes DynamoDB lack: the claimed user's profile and favourites.
    """
    await lock_sub(conn, sub)
    found = await user_id_of(conn, sub)
    if found is not None:
        return found, []
    claimed: uuid.UUID | None = None
    if email:
        claimed = await conn.fetchval(
            "select u.id from auth.users u where lower(u.email) = lower($1) and not exists"
            " (select 1 from public.hustlehub_identities i where i.user_id = u.id)"
            " order by u.created_at limit 1",
            email,
        )
    user_id = claimed
    if user_id is None and email:
        # The email may belong to a Supabase user linked to another sub already.
        user_id = await conn.fetchval(
            "insert into auth.users (email) values ($1) on conflict (email) do nothing"
            " returning id",
            email,
        )
    if user_id is None:
        user_id = await conn.fetchval(
            "insert into auth.users (email) values ($1) returning id", f"{sub}@{_NO_EMAIL_DOMAIN}"
        )
    await conn.execute(
        "insert into public.hustlehub_identities (sub, user_id) values ($1, $2)", sub, user_id
    )
    if claimed is None:
        return user_id, []
    return user_id, await _owned(conn, sub, user_id)


async def _owned(conn: Db, sub: str, user_id: uuid.UUID) -> list[EntityRef]:
    favourites = await conn.fetch(
        "select listing_id::text as listing_id from public.favorites where user_id = $1", user_id
    )
    return [EntityRef("user", sub), *(favourite_ref(sub, row["listing_id"]) for row in favourites)]


async def link(conn: Db, subs: Mapping[str, str]) -> Linked:
    """Link every `supabase id -> sub` pair; carry each linked admin's `is_admin` over as a
    grant, as the transform does. Idempotent."""
    ids, names = list(subs), list(subs.values())
    inserted = await conn.fetch(
        "insert into public.hustlehub_identities (sub, user_id) select p.sub, u.id"
        " from unnest($1::text[], $2::text[]) as p(supabase_id, sub)"
        " join auth.users u on u.id::text = p.supabase_id on conflict do nothing returning sub",
        ids,
        names,
    )
    rows = await conn.fetch(
        "select p.supabase_id, u.id is not null as known, i.sub is not null as linked"
        " from unnest($1::text[], $2::text[]) as p(supabase_id, sub)"
        " left join auth.users u on u.id::text = p.supabase_id"
        " left join public.hustlehub_identities i on i.sub = p.sub and i.user_id = u.id",
        ids,
        names,
    )
    await conn.execute(
        "insert into public.hustlehub_admins (sub, granted_at, granted_by)"
        " select i.sub, p.updated_at, $1 from public.hustlehub_identities i"
        " join public.profiles p on p.id = i.user_id where p.is_admin"
        " on conflict do nothing",
        GRANTED_BY,
    )
    unknown = sorted(row["supabase_id"] for row in rows if not row["known"])
    conflicting = sorted(row["supabase_id"] for row in rows if row["known"] and not row["linked"])
    done = sum(1 for row in rows if row["linked"])
    return Linked(
        linked=len(inserted),
        already=done - len(inserted),
        unknown=unknown,
        conflicting=conflicting,
    )
