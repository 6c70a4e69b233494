"""Fair turns for admin writers contending on one entity.

Optimistic locking alone guarantees progress for somebody, not for everybody. Two writers
PATCHing one entity: the one that wins gets the new ETag in its response and can write again at
once; the one that loses (412) must first read the entity again. The winner's next PATCH is then
always in flight before the loser's retry, so the loser can lose for as long as the winner keeps
writing (measured: runs of over 50 consecutive 412s within 8 s).

The two requests that follow a 412 name the same version (the one that won), so they cannot be
told apart by what they carry. What tells them apart is the order they arrive in: the winner,
having nothing to refresh, comes back first. So after a 412 on an entity, the FIRST write that
names the winning version waits (at most `hold_s`) until a second write naming that version has
finished; the second goes at once. Two writers therefore alternate, and a lone writer whose
rival gave up pays one `hold_s` once. Writers that are not contending never wait.

The turns are per process: with several instances or workers, a 412 taken on one of them gives
no turn on the others (clients there should back off with jitter after a 412).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass


@dataclass(slots=True)
class _Loss:
    version: int  # the version that won; both contenders come back naming it
    until: float
    first: asyncio.Event | None = None  # set when the second contender's attempt is over


class WriterTurns:
    def __init__(
        self,
        *,
        hold_s: float = 0.1,
        remember_s: float = 2.0,
        max_entities: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._hold_s = hold_s
        self._remember_s = remember_s
        self._max_entities = max_entities
        self._clock = clock
        self._losses: dict[str, _Loss] = {}

    def lost(self, key: str, current_version: int | None) -> None:
        """A write on `key` was refused because `current_version` had won."""
        if current_version is None:
            return
        now = self._clock()
        if len(self._losses) >= self._max_entities:
            # Bounded: forget expired losses, and all of them if every one is still live (a
            # forgotten loss only costs that entity its fairness, never correctness).
            self._losses = {k: v for k, v in self._losses.items() if v.until > now}
            if len(self._losses) >= self._max_entities:
                self._losses.clear()
        self._losses[key] = _Loss(current_version, now + self._remember_s)

    @contextlib.asynccontextmanager
    async def turn(self, key: str, expected_version: int) -> AsyncIterator[None]:
        """Run one write attempt on `key` in its fair turn."""
        loss = self._losses.get(key)
        if loss is None or loss.version != expected_version or loss.until < self._clock():
            yield
            return
        if loss.first is None:
            loss.first = released = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._hold_s):
                    await released.wait()
            if self._losses.get(key) is loss:
                del self._losses[key]  # one turn per loss: later writes go straight through
            yield
            return
        try:
            yield
        finally:
            loss.first.set()
            if self._losses.get(key) is loss:
                del self._losses[key]

    def __len__(self) -> int:
        return len(self._losses)
