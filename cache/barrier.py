"""The write barrier: a write waits until every live instance confirmed its invalidation, or
until any instance that did not has let its lease lapse (see `cache.lease`).

The invalidate script returns the live members of the registry (`RedisLayer.invalidate`); each
member that applies the message publishes "<write id> <its origin>" to the writer's ack channel.
A barrier is opened BEFORE the script runs: acks travel on the writer's pub/sub connection and
the script's reply on another, so an ack may be read before the reply that names its sender.

Why waiting `lease` past the reply is enough: an instance serves its in-process layer only
until `t_ping + lease`, where t_ping is when it sent a PING whose PONG it has read. Redis
answers a connection in order, so a PING that Redis saw after our PUBLISH comes back after the
message, which is applied before the PONG is read. A lease from a PING that Redis saw before
the PUBLISH was sent before the writer's reply arrived, so it ends before `reply + lease`.
Durations only: no clock is compared across processes.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import Iterable
from time import monotonic

from cache.observer import BarrierOutcome

# Stands for a subscriber that is not in the registry; never acks (origins are hex).
UNREGISTERED = "?"


class Barrier:
    __slots__ = ("_acked", "_done", "_waiting", "deadline", "write_id")

    def __init__(self, write_id: str) -> None:
        self.write_id = write_id
        self.deadline = math.inf  # monotonic; set by `arm` from the script's reply
        self._waiting: set[str] | None = None  # None until the reply names the members
        self._acked: set[str] = set()  # acks read before the reply
        self._done = asyncio.Event()

    @property
    def missing(self) -> frozenset[str]:
        return frozenset(self._waiting or ())

    def arm(self, members: Iterable[str], *, deadline: float) -> None:
        self.deadline = deadline
        self._waiting = set(members) - self._acked
        if not self._waiting:
            self._done.set()

    def ack(self, origin: str) -> None:
        if self._waiting is None:
            self._acked.add(origin)
            return
        self._waiting.discard(origin)
        if not self._waiting:
            self._done.set()

    async def wait(self) -> BarrierOutcome:
        """Every member acked, or the deadline passed (the silent ones' leases with it)."""
        # A loop, not one timeout: a timer may fire a little early on a coarse loop clock
        # (uvloop's is in ms), and returning before the deadline would break the bound.
        while not self._done.is_set():
            remaining = self.deadline - monotonic()
            if remaining <= 0:
                return "lease_expired"
            try:
                async with asyncio.timeout(remaining):
                    await self._done.wait()
            except TimeoutError:
                continue
        return "acked"


class Barriers:
    """The open barriers of one instance, by write id, for routing acks to them."""

    def __init__(self) -> None:
        self._open: dict[str, Barrier] = {}
        self._ids = itertools.count(1)

    def __len__(self) -> int:
        return len(self._open)

    def open(self) -> Barrier:
        now = monotonic()
        # Acks after a barrier's deadline change nothing; its waiters hold their own reference.
        for write_id in [w for w, b in self._open.items() if b.deadline < now]:
            del self._open[write_id]
        barrier = Barrier(str(next(self._ids)))
        self._open[barrier.write_id] = barrier
        return barrier

    def close(self, barrier: Barrier) -> None:
        self._open.pop(barrier.write_id, None)

    def ack(self, raw: bytes) -> bool:
        """Route one ack ("<write id> <origin>"); False if it was malformed."""
        try:
            write_id, origin = raw.decode().split(" ")
        except ValueError:  # UnicodeDecodeError is one too
            return False
        barrier = self._open.get(write_id)
        if barrier is not None:
            barrier.ack(origin)
        return True


def encode_ack(write_id: str, origin: str) -> bytes:
    return f"{write_id} {origin}".encode()
