"""The operator's commands for the two legacy phases (`hustlehub migrate reconcile|link-users`).

`reconcile` drains the outbox once, from outside the service. The service reconciles in the
background by itself; this is for after an outage, before switching phase (the outbox should
be empty), or to retry dead letters. `link_users` tells the legacy Postgres which Cognito sub
each Supabase user is, before the first legacy phase starts.

The caller brings what belongs to other layers: the cache's `invalidate` (the CLI builds the
cache as the service does) and the parsed user map.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from metrics.registry import Metrics
from service.config import MigrationSettings, Settings
from service.store.client import dynamodb_client
from service.store.table import Table
from service.transition.legacy.db import ensure_schema, legacy_pool, translated
from service.transition.legacy.identities import Linked, link
from service.transition.outbox import Backlog
from service.transition.prune import queue_gone
from service.transition.replicator import Invalidate, Reconciled, Replicator
from service.transition.wiring import replicator

# Each round applies up to RECONCILE_BATCH (100) entries: a bound of 10 million per drainer.
MAX_ROUNDS = 100_000
MAX_CONCURRENCY = 32


@dataclass(frozen=True, slots=True)
class Drained:
    applied: int
    retried: int
    dead: int
    requeued: int
    left: Backlog
    drainers: int


async def reconcile(
    settings: Settings,
    *,
    invalidate: Invalidate,
    requeue_dead: bool = False,
    everything: bool = False,
    prune: str | None = None,
    concurrency: int = 1,
) -> Drained:
    """Apply every outbox row that is due, round after round until a round applies nothing
    (bounded by MAX_ROUNDS), calling `invalidate` with the cache tags each applied entity
    touched. Rows that fail keep their backoff; they are not retried within this run.

    `requeue_dead` first moves the dead letters back; `everything` first queues every
    category, listing, user and favourite Postgres holds (a full resynchronisation of
    DynamoDB); `prune` first queues the items of that load batch whose Postgres row is gone
    (service.transition.prune). `concurrency` drainers run at once, as that many
    instances would (their rounds skip each other's rows; the mirror's per-entity lock orders
    two applications of one entity)."""
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise ValueError(f"concurrency must be 1..{MAX_CONCURRENCY}")
    # Each drainer holds two connections while it applies: its round's and the mirror's.
    wanted = max(settings.migration.legacy_pool_max_size, 2 * concurrency + 1)
    migration = settings.migration.model_copy(update={"legacy_pool_max_size": wanted})
    metrics = Metrics(CollectorRegistry())
    async with legacy_pool(migration) as pool, dynamodb_client(settings) as client:
        await ensure_schema(pool)
        table = Table.from_settings(client, settings, observer=metrics.dynamodb)
        replication = replicator(pool, table, migration, metrics.migration)
        requeued = await replication.outbox.requeue_dead() if requeue_dead else 0
        if everything:
            requeued += await replication.outbox.enqueue_all()
        if prune is not None:
            requeued += await queue_gone(table, replication.outbox, batch=prune)
        drained = await asyncio.gather(
            *(_drain(replication, invalidate) for _ in range(concurrency))
        )
        return Drained(
            applied=sum(d.applied for d in drained),
            retried=sum(d.retried for d in drained),
            dead=sum(d.dead for d in drained),
            requeued=requeued,
            left=await replication.outbox.backlog(),
            drainers=len(drained),
        )


async def _drain(replication: Replicator, invalidate: Invalidate) -> Reconciled:
    applied = retried = dead = 0
    for _ in range(MAX_ROUNDS):
        round_ = await replication.reconcile_once(invalidate=invalidate)
        applied, retried, dead = (
            applied + round_.applied,
            retried + round_.retried,
            dead + round_.dead,
        )
        if round_.applied == 0:
            break
    return Reconciled(applied=applied, retried=retried, dead=dead)


async def link_users(settings: MigrationSettings, subs: Mapping[str, str]) -> Linked:
    """Link every `supabase_id -> sub` pair of `subs` (the transform's usermap.csv, parsed)
    in one transaction, and carry the linked admins' `is_admin` over as grants."""
    async with legacy_pool(settings) as pool:
        await ensure_schema(pool)
        with translated("link users"):
            async with pool.acquire() as conn, conn.transaction():
                return await link(conn, subs)
