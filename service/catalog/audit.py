"""The audit log of admin actions, newest first."""

from __future__ import annotations

from service.models.audit import AuditEvent
from service.models.page import Page
from service.store.audit import AuditStore


class AuditLog:
    def __init__(self, audit: AuditStore) -> None:
        self._audit = audit

    async def page(self, *, limit: int, cursor: str | None) -> Page[AuditEvent]:
        return await self._audit.list(limit=limit, cursor=cursor)
