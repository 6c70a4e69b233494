from __future__ import annotations

from datetime import datetime
from typing import Literal

from ulid import ULID

from service.models.base import Timestamp, WireModel
from service.models.category import Category
from service.models.listing import Listing

AuditAction = Literal["create", "update", "delete", "grant", "revoke"]
AuditEntity = Literal["Category", "Listing", "Admin"]


class AuditEvent(WireModel):
    id: str
    at: Timestamp
    actor: str
    action: AuditAction
    entity_type: AuditEntity
    entity_id: str
    version: int | None = None


def entity_event(
    action: Literal["create", "update", "delete"],
    entity: Category | Listing,
    *,
    at: datetime,
    actor: str,
) -> AuditEvent:
    """The event of an admin write, given the entity as the write left it (for a delete, as it
    was): every store, DynamoDB or legacy, records the same event for the same write."""
    return AuditEvent(
        id=str(ULID()),
        at=at,
        actor=actor,
        action=action,
        entity_type="Category" if isinstance(entity, Category) else "Listing",
        entity_id=entity.id,
        version=entity.version,
    )


def grant_event(
    action: Literal["grant", "revoke"], sub: str, *, at: datetime, actor: str
) -> AuditEvent:
    return AuditEvent(
        id=str(ULID()), at=at, actor=actor, action=action, entity_type="Admin", entity_id=sub
    )
