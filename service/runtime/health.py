"""Readiness: may this instance take traffic? For start-up and drain, not for dependency blips.

An instance is not ready while it drains (SIGTERM), or while it could answer nothing but 503:
DynamoDB unreachable and no cached copy to serve (Redis unreachable too, and no in-process
entry it may serve). A Redis outage alone is not a reason: reads go to DynamoDB. A DynamoDB
outage with a cache to serve from is not one either: stale-if-error answers the hot reads, and
an instance taken out of rotation, or replaced, would throw its in-process copies away exactly
when they carry the traffic. The dependencies' state is in the body, in metrics and in alerts.

Probe results are kept for a second so a load balancer polling every instance often cannot turn
readiness checks into DynamoDB and Redis load of their own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

Probe = Callable[[], Awaitable[bool]]


def _nothing_cached() -> bool:
    return False


class Drain:
    """Set once SIGTERM starts the drain: readiness says 503 from then on, and every answer
    tells its client the connection closes after it (the endpoint wrapper reads it)."""

    __slots__ = ("draining",)

    def __init__(self) -> None:
        self.draining = False


@dataclass
class Readiness:
    probes: dict[str, Probe]
    # Whether the in-process layer holds copies it may serve without the database.
    memory_can_serve: Callable[[], bool] = _nothing_cached
    probe_timeout_s: float = 1.0
    cache_for_s: float = 1.0
    drain: Drain = field(default_factory=Drain)
    _last: tuple[float, dict[str, bool]] | None = field(default=None, repr=False)

    @property
    def draining(self) -> bool:
        return self.drain.draining

    async def check(self) -> dict[str, bool]:
        now = time.monotonic()
        if self._last is not None and now - self._last[0] < self.cache_for_s:
            return self._last[1]
        names = list(self.probes)
        results = await asyncio.gather(*(self._run(self.probes[n]) for n in names))
        outcome = dict(zip(names, results, strict=True))
        self._last = (now, outcome)
        return outcome

    def serviceable(self, checks: dict[str, bool]) -> bool:
        """Whether an instance whose dependencies are in this state can answer reads: from
        DynamoDB, or from the copies every instance keeps in Redis, or from its own."""
        return checks.get("dynamodb", True) or checks.get("redis", False) or self.memory_can_serve()

    async def _run(self, probe: Probe) -> bool:
        try:
            async with asyncio.timeout(self.probe_timeout_s):
                return await probe()
        except Exception:  # noqa: BLE001 - any failure of a probe means "not reachable"
            return False
