from __future__ import annotations

from typing import Literal

from service.models.base import Timestamp, WireModel

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
