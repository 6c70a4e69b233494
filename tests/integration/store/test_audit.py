from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from service.models.category import CategoryPatch
from service.store.audit import AuditStore
from service.store.categories import CategoryStore
from service.store.cursor import CursorCodec
from service.store.table import Table
from service.store.users import UserStore
from tests.integration.store.support import category_data, unique

pytestmark = pytest.mark.asyncio(loop_scope="session")


class Clock:
    """Every test gets its own far-future month, so its audit partition holds only its events."""

    def __init__(self) -> None:
        self.now = datetime(random.randrange(2300, 9000), random.randrange(2, 13), 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


async def test_writes_are_audited_newest_first_across_pages_and_months(table: Table) -> None:
    clock = Clock()
    cursors = CursorCodec(b"k")
    categories = CategoryStore(table, cursors, clock=clock)
    users = UserStore(table, cursors, clock=clock)
    audit = AuditStore(table, cursors, clock=clock)

    created = await categories.create(category_data(), actor="alice")
    await categories.update(created.id, CategoryPatch(name="B"), expected_version=1, actor="bob")
    sub = unique("sub")
    await users.grant_admin(sub, actor="carol")
    clock.now = clock.now.replace(day=28) + timedelta(days=5)  # into the next month
    await users.revoke_admin(sub, actor="dave")
    await categories.delete(created.id, actor="erin")

    events = []
    cursor = None
    for _ in range(10):
        page = await audit.list(limit=2, cursor=cursor)
        events.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert [(e.actor, e.action, e.entity_type) for e in events] == [
        ("erin", "delete", "Category"),
        ("dave", "revoke", "Admin"),
        ("carol", "grant", "Admin"),
        ("bob", "update", "Category"),
        ("alice", "create", "Category"),
    ]
    assert events[3].version == 2
    assert [e.at for e in events] == sorted((e.at for e in events), reverse=True)
