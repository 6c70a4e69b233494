"""What a legacy write tells the rest of the migration: which entities it changed.

A repository records the changed entities inside its own transaction (so the record commits
or rolls back with the write) and hands them on after the commit. The migration phases
implement `Replication` with a transactional outbox (service.transition).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from service.transition.legacy.db import Db

# A user is its profile and admin grant, by sub; a favourite's id is `<sub>/<listingId>`
# (a sub never holds a slash); an audit event's is its event id.
EntityKind = Literal["category", "listing", "user", "favourite", "audit"]


@dataclass(frozen=True, slots=True)
class EntityRef:
    kind: EntityKind
    id: str


@dataclass(frozen=True, slots=True)
class Recorded:
    """A change as the outbox holds it: its row id and the entity it names."""

    entry_id: int
    ref: EntityRef


class Replication(Protocol):
    async def record(self, conn: Db, refs: Sequence[EntityRef]) -> list[Recorded]:
        """Inside the write's transaction, on its connection."""
        ...

    async def push(self, recorded: Sequence[Recorded]) -> None:
        """After the commit. Never raises: what it cannot deliver stays recorded."""
        ...


def unique(refs: Sequence[EntityRef]) -> list[EntityRef]:
    return list(dict.fromkeys(refs))


def favourite_ref(sub: str, listing_id: str) -> EntityRef:
    return EntityRef("favourite", f"{sub}/{listing_id}")


def favourite_of(ref: EntityRef) -> tuple[str, str]:
    """(sub, listing id) of a favourite ref."""
    sub, _, listing_id = ref.id.rpartition("/")
    return sub, listing_id
