"""One load per key per process; waiters share it, and can be detached from it by tag.

Each load runs in its own task and waiters `await asyncio.shield(task)`, so cancelling a
waiter (a client hung up) never cancels the load the others are waiting for. `detach(tags)`
takes in-flight loads for those tags out of the table: their current waiters still get their
result (they began before the invalidation), but a reader arriving afterwards starts a fresh
load instead of joining one that may have read pre-write data.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Flight(Generic[T]):
    task: asyncio.Task[T]
    tags: frozenset[str]


class SingleFlight(Generic[T]):
    def __init__(self) -> None:
        self._flights: dict[str, _Flight[T]] = {}
        self._running: set[asyncio.Task[T]] = set()  # detached ones too: keeps them referenced

    def __len__(self) -> int:
        return len(self._flights)

    async def run(
        self, key: str, tags: frozenset[str], load: Callable[[], Coroutine[Any, Any, T]]
    ) -> T:
        return await asyncio.shield(self.start(key, tags, load))

    def start(
        self, key: str, tags: frozenset[str], load: Callable[[], Coroutine[Any, Any, T]]
    ) -> asyncio.Task[T]:
        """The key's load in flight, started if there is none. Await it shielded (`run`)."""
        flight = self._flights.get(key)
        if flight is None:
            task = asyncio.create_task(load())
            flight = _Flight(task, tags)
            self._flights[key] = flight
            self._running.add(task)
            task.add_done_callback(lambda done: self._finished(key, flight, done))
        return flight.task

    def detach(self, tags: Iterable[str]) -> None:
        wanted = frozenset(tags)
        stale = [key for key, flight in self._flights.items() if flight.tags & wanted]
        for key in stale:
            del self._flights[key]

    def detach_all(self) -> None:
        self._flights.clear()

    async def aclose(self, *, within: float = 5.0) -> None:
        self._flights.clear()
        await cancel_and_wait(self._running, within=within)

    def _finished(self, key: str, flight: _Flight[T], task: asyncio.Task[T]) -> None:
        self._running.discard(task)
        if self._flights.get(key) is flight:
            del self._flights[key]
        if not task.cancelled():
            # Mark the exception retrieved: if every waiter was cancelled nobody else will.
            task.exception()


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]], *, within: float) -> bool:
    """Cancel `tasks` and wait for them, re-cancelling, for at most `within` seconds.

    Re-cancelling matters on Python 3.11: `asyncio.wait_for` (which redis-py uses to send
    commands) swallows a cancellation that lands as the wrapped operation completes, so one
    `cancel()` can be lost. Returns True if every task finished.
    """
    pending = {task for task in tasks if not task.done()}
    deadline = asyncio.get_running_loop().time() + within
    while pending:
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            return False
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=min(0.1, left))
    return True
