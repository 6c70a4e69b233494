"""Audit events in the legacy phases: the DynamoDB stores write an event inside the write's own
transaction; the legacy stores insert it into `hustlehub_audit` inside theirs and hand the
outbox a ref to it, so `GET /v1/admin/audit` (which reads DynamoDB in every phase) shows the
writes made while Postgres was the truth, and a write that rolls back leaves no event."""

from __future__ import annotations

from service.models.audit import AuditEvent
from service.transition.legacy.changes import EntityRef
from service.transition.legacy.db import Db


async def record_event(conn: Db, event: AuditEvent) -> EntityRef:
    await conn.execute(
        "insert into public.hustlehub_audit (id, at, actor, action, entity_type, entity_id,"
        " version) values ($1, $2, $3, $4, $5, $6, $7)",
        event.id,
        event.at,
        event.actor,
        event.action,
        event.entity_type,
        event.entity_id,
        event.version,
    )
    return EntityRef("audit", event.id)


async def fetch_event(db: Db, event_id: str) -> AuditEvent | None:
    row = await db.fetchrow(
        "select id, at, actor, action, entity_type, entity_id, version"
        " from public.hustlehub_audit where id = $1",
        event_id,
    )
    return None if row is None else AuditEvent(**dict(row))
