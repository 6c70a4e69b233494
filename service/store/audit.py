"""Audit events: written inside the transaction of the write they record, listed newest first.

Partitions are UTC months (see keys.py); a cursor names the month and, within it, the
LastEvaluatedKey, so a listing can resume across month boundaries.

Lifecycle: an event carries `expiresAt` (epoch seconds, the table's TTL attribute) when the
rules give audit events a retention, and DynamoDB deletes it after that time. TTL deletes
within days, not at the second, so the list leaves out an event whose time has passed.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from service.errors import BadInput
from service.models.audit import AuditEvent
from service.models.page import Page
from service.store import keys
from service.store.codec import Item, entity_item, load
from service.store.common import Repository
from service.store.keys import TTL_ATTRIBUTE, Key
from service.store.paging import query_page
from service.store.rules import ItemRules
from service.store.txn import Transaction

_SCOPE = "audit"
_PARTITION = re.compile(r"^AUDIT#\d{4}-\d{2}$")


def record(txn: Transaction, event: AuditEvent, rules: ItemRules) -> None:
    expiry = rules.audit_expiry(event.at)
    lifecycle: dict[str, object] = {} if expiry is None else {TTL_ATTRIBUTE: expiry}
    txn.put(
        entity_item(event, "AuditEvent", keys.audit(event.at, event.id), rules=rules, **lifecycle)
    )


def expired(item: Item, now: datetime) -> bool:
    value = item.get(TTL_ATTRIBUTE)
    return isinstance(value, dict) and "N" in value and int(value["N"]) <= now.timestamp()


class AuditStore(Repository):
    async def list(self, *, limit: int, cursor: str | None) -> Page[AuditEvent]:
        now = self._clock()
        oldest = keys.audit_partition(now - timedelta(days=31 * keys.AUDIT_LOOKBACK_MONTHS))
        partition, start = self._decode(cursor) if cursor else (keys.audit_partition(now), None)
        events: list[AuditEvent] = []
        # String order of "AUDIT#yyyy-mm" is month order; the lookback bounds the walk.
        while partition >= oldest:
            items, next_key = await query_page(
                self._table,
                limit=limit - len(events),
                start=start,
                key_attrs=keys.TABLE_KEYS,
                KeyConditionExpression="PK = :pk",
                ExpressionAttributeValues={":pk": {"S": partition}},
                ScanIndexForward=False,
            )
            events.extend(load(AuditEvent, item) for item in items if not expired(item, now))
            if next_key is not None:
                return Page(items=events, next_cursor=self._encode(partition, next_key))
            partition, start = keys.previous_month(partition), None
            if len(events) >= limit:
                more = partition >= oldest
                return Page(items=events, next_cursor=self._encode(partition) if more else None)
        return Page(items=events, next_cursor=None)

    def _encode(self, partition: str, start: Key | None = None) -> str:
        return self._cursors.encode(_SCOPE, {"m": partition, "k": start})

    def _decode(self, cursor: str) -> tuple[str, Key | None]:
        payload = self._cursors.decode(_SCOPE, cursor)
        partition = payload.get("m")
        if not isinstance(partition, str) or not _PARTITION.match(partition):
            raise BadInput("invalid cursor")
        if payload.get("k") is None:
            return partition, None
        start = self._cursors.decode_key(_SCOPE, cursor, attrs=keys.TABLE_KEYS)
        if start[keys.PK]["S"] != partition:
            raise BadInput("invalid cursor")
        return partition, start
