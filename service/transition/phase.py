"""The resources of the two legacy phases, opened once per process by the composition root:
one asyncpg pool, the outbox replicator, the phase's repositories, and the background
reconciler that drains the outbox while the service runs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from cache import cancel_and_wait
from service.config import Settings
from service.store.cursor import CursorCodec
from service.store.stores import Stores
from service.store.table import Table
from service.transition.legacy.db import ensure_schema, legacy_pool
from service.transition.observer import MigrationObserver
from service.transition.replicator import Invalidate, Replicator
from service.transition.wiring import phase_stores, replicator


@dataclass(frozen=True, slots=True)
class LegacyPhase:
    stores: Stores
    replicator: Replicator

    async def postgres_reachable(self) -> bool:
        await self.replicator.outbox.pool.fetchval("select 1")
        return True


@contextlib.asynccontextmanager
async def legacy_stores(
    settings: Settings, dynamodb: Stores, table: Table, *, observer: MigrationObserver
) -> AsyncIterator[LegacyPhase]:
    """The phase's repositories over a pool of their own, without the background reconciler:
    for a short-lived caller (the post-confirmation trigger) and for `legacy_phase`."""
    migration = settings.migration
    async with legacy_pool(migration) as pool:
        await ensure_schema(pool)
        cursors = CursorCodec(settings.cursor_secret.get_secret_value().encode())
        replication = replicator(pool, table, migration, observer)
        stores = phase_stores(
            migration.phase,
            dynamodb,
            pool=pool,
            replication=replication,
            cursors=cursors,
            observer=observer,
            shadow_timeout_s=migration.shadow_timeout_s,
        )
        yield LegacyPhase(stores=stores, replicator=replication)


@contextlib.asynccontextmanager
async def legacy_phase(
    settings: Settings,
    dynamodb: Stores,
    table: Table,
    *,
    observer: MigrationObserver,
    invalidate: Invalidate,
) -> AsyncIterator[LegacyPhase]:
    """What the composition root opens in the legacy phases: `legacy_stores`, and the
    reconciler that drains the outbox in the background every `reconcile_interval_s`,
    invalidating through `invalidate` what each applied entity touched."""
    async with legacy_stores(settings, dynamodb, table, observer=observer) as phase:
        reconciler = asyncio.create_task(
            phase.replicator.run(
                interval_s=settings.migration.reconcile_interval_s, invalidate=invalidate
            ),
            name="outbox-reconciler",
        )
        try:
            yield phase
        finally:
            await cancel_and_wait([reconciler], within=5.0)
