"""What every legacy repository holds: the pool, the replication its writes record their changes
with, the cursor codec its pages share with the DynamoDB stores, and the clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import asyncpg

from service.models.base import utcnow
from service.store.cursor import CursorCodec
from service.transition.legacy.changes import Replication


class LegacyRepository:
    def __init__(
        self,
        pool: asyncpg.Pool,
        replication: Replication,
        cursors: CursorCodec,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._pool = pool
        self._replication = replication
        self._cursors = cursors
        self._clock = clock
