"""Cut-off notices: how a process that has lost Redis keeps serving what it read itself for
longer than its registration lasts, without a writer that still reaches Redis missing it.

Why they exist: a process without a lease serves a copy it read at `r` until `r + lease`
(`cache.recent`). That is safe only while every writer waits one lease for it: a writer that
reaches Redis waits for the instances in the registry, and Redis drops a silent process from
it one registration TTL after its last registration (a crashed process must not slow writes
forever). So without notices such a process stops serving its recent reads at the
registration cap (`cache.lease`), and every read of a long outage goes to the table.

With notices, a process whose channel is down also says so in a store both it and the writers
still reach (the table, in this service: `CutOffNotices` is the seam), every `valid_for / 5`
seconds, each notice valid for `valid_for` seconds by the announcer's wall clock. A writer whose
invalidation every registered instance acknowledged (so it waited less than a lease) reads the
notices after its invalidation, and if another process has a current one, waits one lease
before answering. The bound then holds past the registration cap:

- a cut-off process serves a copy read at `r` only if `r` came after one of its notices was
  stored (the put had returned) and each renewal since was stored before the one before it
  lapsed, and only while the latest stored one is surely current: until its send time +
  `valid_for / 2` (the other half is margin for the two hosts' clocks);
- a write the copy lacks committed after `r`; its writer read the notices after the commit,
  so after the notice was stored, and found it current; it answers after that read + one
  lease, later than `r + lease`, when the copy is no longer served.

A writer that cannot read the notices waits the lease too. A process starts announcing when
its registration cap is a quarter of the registry TTL away (closer than it ever gets while
registrations get through), and withdraws its notice once they get through again, so writers
stop paying for it at once; a crashed process's notice stops counting `valid_for` after its
last renewal.
"""

from __future__ import annotations

import math
from typing import Protocol


class CutOffNotices(Protocol):
    async def announce(self, origin: str, *, valid_for: float) -> None:
        """Store (or renew) `origin`'s notice, current for `valid_for` s; raise if not stored."""
        ...

    async def withdraw(self, origin: str) -> None:
        """Remove `origin`'s notice (best effort: it also stops counting by itself)."""
        ...

    async def others(self, origin: str) -> bool:
        """Whether a process other than `origin` has a current notice (a strongly consistent
        read: it must see every notice stored before it began)."""
        ...


class CutOffState:
    """This process's side: since when, and until when, its notices vouch for its recent
    reads (monotonic). Reset when the channel is back."""

    __slots__ = ("_from", "_until", "valid_for")

    def __init__(self, valid_for: float) -> None:
        if valid_for <= 0:
            raise ValueError("a notice must be valid for > 0 s")
        self.valid_for = valid_for
        self._from = math.inf
        self._until = 0.0

    @property
    def renew_every(self) -> float:
        return self.valid_for / 5

    def stored(self, sent_at: float, returned_at: float) -> None:
        """A notice sent at `sent_at` was stored; the put returned at `returned_at`."""
        if returned_at >= self._until:
            # The last one had lapsed (or there was none): a writer may have read no current
            # notice in between, so only reads from now on are vouched for.
            self._from = returned_at
        self._until = max(self._until, sent_at + self.valid_for / 2)

    def cap(self, read_at: float) -> float:
        """Until when a copy read at `read_at` may be served on the notices' word (0: not)."""
        return self._until if read_at >= self._from else 0.0

    def reset(self) -> None:
        self._from = math.inf
        self._until = 0.0
