"""What the migration phases report; metrics.migration implements it."""

from __future__ import annotations

from typing import Protocol


class MigrationObserver(Protocol):
    def compared(self, entity: str, *, matched: bool) -> None: ...

    def fell_back(self, entity: str, reason: str) -> None: ...

    def outbox(self, outcome: str, count: int = 1) -> None: ...
