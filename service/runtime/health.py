"""Readiness: may this instance take traffic? False while draining or while a dependency is down.

Probe results are kept for a second so a load balancer polling every instance often cannot turn
readiness checks into DynamoDB and Redis load of their own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

Probe = Callable[[], Awaitable[bool]]


@dataclass
class Readiness:
    probes: dict[str, Probe]
    probe_timeout_s: float = 1.0
    cache_for_s: float = 1.0
    draining: bool = False
    _last: tuple[float, dict[str, bool]] | None = field(default=None, repr=False)

    async def check(self) -> dict[str, bool]:
        now = time.monotonic()
        if self._last is not None and now - self._last[0] < self.cache_for_s:
            return self._last[1]
        names = list(self.probes)
        results = await asyncio.gather(*(self._run(self.probes[n]) for n in names))
        outcome = dict(zip(names, results, strict=True))
        self._last = (now, outcome)
        return outcome

    async def _run(self, probe: Probe) -> bool:
        try:
            async with asyncio.timeout(self.probe_timeout_s):
                return await probe()
        except Exception:  # noqa: BLE001 - any failure of a probe means "not ready"
            return False
