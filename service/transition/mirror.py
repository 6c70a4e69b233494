"""Making DynamoDB hold an entity's current legacy state: the outbox's one action.

`apply(ref)` reads the entity from Postgres and writes what the DynamoDB stores would hold for
it (the entity, its list copy, its slug mapping; or their removal when the row is gone) in one
TransactWriteItems. It reads the state when it runs rather than carrying it in the outbox row,
and it runs under a per-entity advisory lock held across the read and the DynamoDB write, so
appliers of one entity take turns and the last one to run writes the latest state: rows may be
applied late, twice or out of order and DynamoDB still converges on Postgres.

A user is its profile (with the Supabase id beside it, as the transform writes it) and its
admin grant; a favourite is its one item. A listing's removal removes its favourites in
DynamoDB too, as the DynamoDB store's delete does (Postgres cascades them without recording
each). An audit event is put as the DynamoDB stores write it.

An item the bulk load wrote keeps its batch tag when it is rewritten here, the entity's copies
taking the entity item's: `migrate verify` then finds the load's items tagged after
`reconcile --all`, and `migrate rollback` of that batch still removes them all.
"""

from __future__ import annotations

import asyncpg

from service.catalog.cachekeys import CATEGORIES, LISTINGS, category_tags, listing_tags
from service.models.category import Category
from service.models.listing import Listing
from service.store import keys
from service.store.batch import batch_get
from service.store.categories import category_item
from service.store.codec import Item, entity_item, load, to_item
from service.store.common import get_item, slug_item
from service.store.copies import entry_item, entry_key, listing_copy_item, listing_copy_key
from service.store.favourites import favourite_item
from service.store.keys import BATCH_ATTRIBUTE, SlugKind
from service.store.listings import delete_favourites_of, listing_item
from service.store.table import Table
from service.store.txn import Transaction
from service.store.users import admin_item, profile_item
from service.transition.legacy.audit import fetch_event
from service.transition.legacy.categories import fetch_category
from service.transition.legacy.changes import EntityRef, favourite_of
from service.transition.legacy.db import Db, translated
from service.transition.legacy.favourites import fetch_saved
from service.transition.legacy.listings import fetch_listing
from service.transition.legacy.users import fetch_grant, fetch_profile, profile_from


class Mirror:
    def __init__(self, pool: asyncpg.Pool, table: Table) -> None:
        self._pool = pool
        self._table = table

    async def apply(self, ref: EntityRef) -> list[str]:
        """Make DynamoDB match Postgres for `ref`; the cache tags that change touches.

        Raises StoreError (DynamoDB) or StoreUnavailable (Postgres) when it could not.
        """
        with translated("mirror"):
            async with self._pool.acquire() as conn, conn.transaction():
                await conn.execute(
                    "select pg_advisory_xact_lock(hashtextextended($1, 0))",
                    f"hustlehub-mirror:{ref.kind}:{ref.id}",
                )
                if ref.kind == "category":
                    return await self._category(ref.id, await fetch_category(conn, ref.id))
                if ref.kind == "user":
                    await self._user(conn, ref.id)
                    return []  # profiles and grants are never cached
                if ref.kind == "favourite":
                    await self._favourite(conn, *favourite_of(ref))
                    return []
                if ref.kind == "audit":
                    await self._audit(conn, ref.id)
                    return []
                listing = await fetch_listing(conn, ref.id)
                category_version = 1
                if listing is not None:
                    category = await fetch_category(conn, listing.category_id)
                    category_version = category.version if category is not None else 1
                return await self._listing(ref.id, listing, category_version)

    async def _category(self, category_id: str, state: Category | None) -> list[str]:
        item = await get_item(self._table, keys.category(category_id), consistent=True)
        old = None if item is None else load(Category, item)
        batch_tag = _batch_tag(item)
        tags = [CATEGORIES, *category_tags(category_id)]
        txn = Transaction()
        if old is not None:
            tags += category_tags(old.slug)
            if state is None or entry_key(old) != entry_key(state):
                txn.delete(entry_key(old))
            if state is None or old.slug != state.slug:
                await self._release(txn, "CATEGORY", old.slug, category_id)
        if state is None:
            if old is not None:
                txn.delete(keys.category(category_id))
        else:
            tags += category_tags(state.slug)
            txn.put({**category_item(state), **batch_tag})
            txn.put({**entry_item(state), **batch_tag})
            txn.put({**slug_item("CATEGORY", state.slug, category_id), **batch_tag})
            if old is not None and (old.slug, old.name) != (state.slug, state.name):
                tags.append(LISTINGS)  # listing bodies show the category's slug and name
        if len(txn):
            await txn.commit(self._table)
        return tags

    async def _listing(
        self, listing_id: str, state: Listing | None, category_version: int
    ) -> list[str]:
        item = await get_item(self._table, keys.listing(listing_id), consistent=True)
        old = None if item is None else load(Listing, item)
        batch_tag = _batch_tag(item)
        tags = listing_tags(listing_id)
        txn = Transaction()
        if old is not None:
            tags += [*listing_tags(old.slug), *category_tags(old.category_id, old.category_slug)]
            if state is None or listing_copy_key(old) != listing_copy_key(state):
                txn.delete(listing_copy_key(old))
            if state is None or old.slug != state.slug:
                await self._release(txn, "LISTING", old.slug, listing_id)
        if state is None:
            if old is not None:
                txn.delete(keys.listing(listing_id))
        else:
            tags += [
                *listing_tags(state.slug),
                *category_tags(state.category_id, state.category_slug),
            ]
            txn.put({**listing_item(state, category_version), **batch_tag})
            txn.put({**listing_copy_item(state, category_version), **batch_tag})
            txn.put({**slug_item("LISTING", state.slug, listing_id), **batch_tag})
        if len(txn):
            await txn.commit(self._table)
        if state is None:  # also when a retry finds the listing already gone
            # After the listing's removal, as in ListingStore.delete.
            await delete_favourites_of(self._table, listing_id)
        return tags

    async def _user(self, conn: Db, sub: str) -> None:
        profile, grant = await fetch_profile(conn, sub), await fetch_grant(conn, sub)
        found = await batch_get(self._table, [keys.user(sub), keys.admin(sub)], consistent=True)
        batch_tags = {item[keys.SK]["S"]: _batch_tag(item) for item in found}
        txn = Transaction()
        if profile is None:
            txn.delete(keys.user(sub))
        else:
            provenance = {
                "supabaseId": str(profile["user_id"]),
                "supabaseUpdatedAt": profile["updated_at"],
            }
            item = {**profile_item(profile_from(profile)), **to_item(provenance)}
            txn.put({**item, **batch_tags.get(item[keys.SK]["S"], {})})
        if grant is None:
            txn.delete(keys.admin(sub))
        else:
            txn.put(
                {
                    **admin_item(sub, grant["granted_at"], grant["granted_by"]),
                    **batch_tags.get(keys.ADMIN_SK, {}),
                }
            )
        await txn.commit(self._table)

    async def _favourite(self, conn: Db, sub: str, listing_id: str) -> None:
        saved = await fetch_saved(conn, sub, listing_id)
        key = keys.favourite(sub, listing_id)
        if saved is None:
            await self._table.call("DeleteItem", Key=key)
            return
        batch_tag = _batch_tag(await get_item(self._table, key, consistent=True))
        item = {**favourite_item(sub, listing_id, saved), **batch_tag}
        await self._table.call("PutItem", Item=item)

    async def _audit(self, conn: Db, event_id: str) -> None:
        event = await fetch_event(conn, event_id)
        if event is not None:  # events are never deleted; put again, it is the same item
            item = entity_item(event, "AuditEvent", keys.audit(event.at, event.id))
            await self._table.call("PutItem", Item=item)

    async def _release(self, txn: Transaction, kind: SlugKind, slug: str, owner: str) -> None:
        # Only a mapping that still points at this entity: another may have taken the slug.
        mapping = await get_item(self._table, keys.slug(kind, slug), consistent=True)
        if mapping is not None and mapping.get("targetId", {}).get("S") == owner:
            txn.delete(keys.slug(kind, slug))


def _batch_tag(item: Item | None) -> Item:
    """The bulk load's batch tag of `item`, to carry onto what replaces it."""
    if item is None or BATCH_ATTRIBUTE not in item:
        return {}
    return {BATCH_ATTRIBUTE: item[BATCH_ATTRIBUTE]}
