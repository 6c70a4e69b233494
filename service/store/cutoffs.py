"""Cut-off notices in the table (cache.cutoff says what they are for and why they keep the
freshness bound): one item per process that has lost Redis, in one partition.

    PK = CACHE#CUTOFF   SK = <the process's cache origin>   until = epoch ms   expiresAt = epoch s

The partition holds at most one item per process cut off at once, so a writer's check is one
strongly consistent Query of a few small items (0.5 read units). `until` is compared with the
reader's wall clock; the announcer stops relying on a notice at half its validity, which leaves
the other half for the clocks of two hosts to disagree. `expiresAt` (the table's TTL attribute)
removes the notices of processes that crashed while cut off, whose `until` had long passed.
The stream consumer ignores these items: their key names no entity (`keys.kind_of`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from service.store import keys
from service.store.table import Table

KEEP_S = 86_400  # for the table's TTL: long past any notice's `until`


class TableCutOffNotices:
    """`cache.cutoff.CutOffNotices` on the single table."""

    def __init__(self, table: Table, *, clock: Callable[[], float] = time.time) -> None:
        self._table = table
        self._clock = clock

    async def announce(self, origin: str, *, valid_for: float) -> None:
        now = self._clock()
        await self._table.call(
            "PutItem",
            Item={
                keys.PK: {"S": keys.CUT_OFF},
                keys.SK: {"S": origin},
                "until": {"N": str(int((now + valid_for) * 1000))},
                keys.TTL_ATTRIBUTE: {"N": str(int(now) + KEEP_S)},
            },
        )

    async def withdraw(self, origin: str) -> None:
        await self._table.call(
            "DeleteItem", Key={keys.PK: {"S": keys.CUT_OFF}, keys.SK: {"S": origin}}
        )

    async def others(self, origin: str) -> bool:
        response = await self._table.call(
            "Query",
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": keys.CUT_OFF}},
            ConsistentRead=True,
        )
        now_ms = self._clock() * 1000
        return any(
            item[keys.SK]["S"] != origin and int(item["until"]["N"]) > now_ms
            for item in response.get("Items", ())
        )
