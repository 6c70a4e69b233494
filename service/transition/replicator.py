"""Carrying legacy writes to DynamoDB: at once after each write, and later by reconciling.

`push` runs right after a legacy write commits, before the response: the usual case, where
DynamoDB takes the write at once and its outbox row is deleted. It has `push_timeout_s` in
all, so a throttled or slow DynamoDB costs a write at most that, not a DynamoDB call deadline
per entity. A failure (or running out of time) is counted as the row's first attempt and left
for `reconcile_once`, which drains due rows with backoff and moves a row to the dead letters
after `max_attempts` failures.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from service.errors import ServiceError, StoreUnavailable
from service.transition.legacy.changes import EntityRef, Recorded
from service.transition.legacy.db import Db, translated
from service.transition.mirror import Mirror
from service.transition.observer import MigrationObserver
from service.transition.outbox import Outbox

log = logging.getLogger(__name__)
Invalidate = Callable[[list[str]], Awaitable[None]]
RECONCILE_BATCH = 100
# A round holds its rows' locks while it applies them; when DynamoDB is down each failure can
# take a whole call deadline, so a round gives up after this many failures in a row and
# leaves the rest of its batch, untouched, to the next round.
MAX_FAILURES_IN_A_ROW = 3


@dataclass(frozen=True, slots=True)
class Reconciled:
    applied: int = 0
    retried: int = 0
    dead: int = 0


class Replicator:
    def __init__(
        self,
        outbox: Outbox,
        mirror: Mirror,
        *,
        observer: MigrationObserver,
        push_timeout_s: float,
    ) -> None:
        self.outbox = outbox
        self._mirror = mirror
        self._observer = observer
        self._push_timeout_s = push_timeout_s

    async def record(self, conn: Db, refs: Sequence[EntityRef]) -> list[Recorded]:
        recorded = await self.outbox.record(conn, refs)
        self._observer.outbox("recorded", len(recorded))
        return recorded

    async def push(self, recorded: Sequence[Recorded]) -> None:
        done: list[int] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._push_timeout_s
        for entry in recorded:
            try:
                await self._apply_by(entry, deadline)
            except ServiceError as exc:
                log.warning("DynamoDB lacks %s %s for now: %s", entry.ref.kind, entry.ref.id, exc)
                await self._count_failure(entry, exc)
                continue
            done.append(entry.entry_id)
        if done:
            self._observer.outbox("applied", len(done))
            # If this fails the rows stay: applying them again is harmless.
            with contextlib.suppress(ServiceError), translated("outbox"):
                await self.outbox.applied(self.outbox.pool, done)

    async def _apply_by(self, entry: Recorded, deadline: float) -> None:
        scope = asyncio.timeout_at(deadline)
        try:
            async with scope:
                await self._mirror.apply(entry.ref)
        except TimeoutError as exc:
            if not scope.expired():
                raise
            raise StoreUnavailable(
                f"not applied within the {self._push_timeout_s:g} s push budget", code="Timeout"
            ) from exc

    async def _count_failure(self, entry: Recorded, exc: Exception) -> None:
        try:
            with translated("outbox"):
                async with self.outbox.pool.acquire() as conn, conn.transaction():
                    dead = await self.outbox.failed(conn, entry.entry_id, _describe(exc))
        except ServiceError:
            return  # the row keeps its first-attempt time; the reconciler takes it then
        self._observer.outbox("dead" if dead else "retried")

    async def reconcile_once(
        self, *, invalidate: Invalidate | None = None, limit: int = RECONCILE_BATCH
    ) -> Reconciled:
        """Apply every due outbox row (at most `limit`); what failed waits its backoff.

        `invalidate` receives the cache tags of every entity applied: in dual-read, readers
        may have cached what DynamoDB held before.
        """
        applied = retried = dead = failures_in_a_row = 0
        tags: list[str] = []
        with translated("reconcile"):
            async with self.outbox.pool.acquire() as conn, conn.transaction():
                for due in await self.outbox.due(conn, limit=limit):
                    if failures_in_a_row >= MAX_FAILURES_IN_A_ROW:
                        break
                    try:
                        tags += await self._mirror.apply(due.recorded.ref)
                    except ServiceError as exc:
                        failures_in_a_row += 1
                        if await self.outbox.failed(conn, due.recorded.entry_id, _describe(exc)):
                            dead += 1
                        else:
                            retried += 1
                        continue
                    failures_in_a_row = 0
                    await self.outbox.applied(conn, [due.recorded.entry_id])
                    applied += 1
        for outcome, count in (("applied", applied), ("retried", retried), ("dead", dead)):
            self._observer.outbox(outcome, count)
        if tags and invalidate is not None:
            await invalidate(list(dict.fromkeys(tags)))
        return Reconciled(applied=applied, retried=retried, dead=dead)

    async def run(self, *, interval_s: float, invalidate: Invalidate | None = None) -> None:
        """Reconcile forever, every `interval_s`; a failed round is logged and tried again."""
        while True:
            try:
                outcome = await self.reconcile_once(invalidate=invalidate)
            except ServiceError as exc:
                log.warning("outbox reconcile round failed: %s", exc)
            except Exception:  # a background loop that dies drains nothing: log, go on
                log.exception("outbox reconcile round failed")
            else:
                if outcome.retried or outcome.dead:
                    log.warning("outbox reconcile: %s", outcome)
                if outcome.applied == RECONCILE_BATCH:
                    continue  # more are due: no pause
            await asyncio.sleep(interval_s)


def _describe(exc: Exception) -> str:
    code = getattr(exc, "code", None)
    return f"{type(exc).__name__}({code}): {exc}" if code else f"{type(exc).__name__}: {exc}"
