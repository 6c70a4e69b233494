"""Queue the bulk load's items whose Postgres row is gone (`reconcile --prune BATCH`).

The bulk load runs alongside dual-write from an export taken before it: a row deleted after the
export (an unsaved favourite, a revoked grant, a deleted listing) has its deletion mirrored,
and then the load writes the exported copy back. `reconcile --all` cannot see such items (it
queues what Postgres holds); this walks the items tagged with the load's batch, asks Postgres
which of their rows still exist, and queues the others, whose applying removes them.
"""

from __future__ import annotations

from collections.abc import Iterable

from service.store import keys
from service.store.codec import Item
from service.store.scan import scan_batch
from service.store.table import Table
from service.transition.legacy.changes import EntityRef, favourite_ref
from service.transition.legacy.db import translated
from service.transition.outbox import Outbox

# Per item type: the entity it belongs to, and whether its Postgres row exists. The copies,
# entries and slug mappings go with their entity, so they need no check of their own.
_UUID = "'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'"
# Ids compared as uuids, so every check is a primary-key look-up; a key that is not a uuid has
# no row (the legacy ids are all uuids).
_GONE = f"""
insert into public.hustlehub_outbox (entity, entity_id)
select distinct t.entity, t.entity_id
from unnest($1::text[], $2::text[], $3::text[]) as t(type, entity, entity_id)
cross join lateral (select
    case when t.entity_id ~ {_UUID} then t.entity_id::uuid end as id,
    split_part(t.entity_id, '/', 1) as sub,
    case when split_part(t.entity_id, '/', 2) ~ {_UUID}
        then split_part(t.entity_id, '/', 2)::uuid end as listing_id) as k
where not case t.type
    when 'Category' then exists (select 1 from public.categories c where c.id = k.id)
    when 'Listing' then exists (select 1 from public.listings l where l.id = k.id)
    when 'User' then exists (select 1 from public.hustlehub_identities i
        join public.profiles p on p.id = i.user_id where i.sub = t.entity_id)
    when 'Admin' then exists (select 1 from public.hustlehub_admins a where a.sub = t.entity_id)
    when 'Favourite' then exists (select 1 from public.hustlehub_identities i
        join public.favorites f on f.user_id = i.user_id
        where i.sub = k.sub and f.listing_id = k.listing_id)
end
returning 1
"""  # noqa: S608 - only constants are formatted in; the values are bound parameters


def owner(item: Item) -> tuple[str, EntityRef] | None:
    """(the item's type, the entity applying which rewrites or removes it), for the entities'
    own items; None for copies, entries and slug mappings."""
    kind, pk, sk = item["type"]["S"], item[keys.PK]["S"], item[keys.SK]["S"]
    _, _, key = pk.partition("#")
    if kind == "Category":
        return kind, EntityRef("category", key)
    if kind == "Listing":
        return kind, EntityRef("listing", key)
    if kind in ("User", "Admin"):
        return kind, EntityRef("user", key)
    if kind == "Favourite":
        return kind, favourite_ref(key, sk.removeprefix(keys.FAVOURITE_PREFIX))
    return None


async def _queue_gone(outbox: Outbox, owned: Iterable[tuple[str, EntityRef]]) -> int:
    found = list(owned)
    if not found:
        return 0
    with translated("outbox"):
        rows = await outbox.pool.fetch(
            _GONE,
            [kind for kind, _ in found],
            [ref.kind for _, ref in found],
            [ref.id for _, ref in found],
        )
    return len(rows)


async def queue_gone(table: Table, outbox: Outbox, *, batch: str) -> int:
    """Queue, due now, every entity of `batch`'s items whose Postgres row is gone; how many."""
    queued = 0
    async for page in scan_batch(table, batch=batch):
        queued += await _queue_gone(outbox, filter(None, map(owner, page)))
    return queued
