"""The lease under which an instance may serve its in-process layer.

`until` is a monotonic time. It moves forward only on proof that this instance has applied
every invalidation published up to a moment: a PONG read on the pub/sub connection for a PING
sent at `t` proves it for every message Redis published before it saw that PING, which was
after `t`; so the lease is `t + duration` (`cache.barrier` explains why a writer then need wait
no longer than its own reply + duration for an instance that does not answer).

It is also capped by the registration: a writer waits only for the instances registered when
its script ran, so an instance must stop serving before Redis could have expired its entry.
The entry's expiry is set from Redis' clock; half its TTL is kept as margin for that clock
being stepped forward.

Reading it is one monotonic read and one float compare (`ReadThroughCache.peek`).
"""

from __future__ import annotations

import math


class Lease:
    __slots__ = ("_duration", "_pinged_until", "_registered_until", "until")

    def __init__(self, duration: float) -> None:
        if duration <= 0:
            raise ValueError("a lease must last > 0 s")
        self._duration = duration
        self._pinged_until = 0.0
        self._registered_until = 0.0
        self.until = 0.0

    @property
    def duration(self) -> float:
        return self._duration

    @property
    def registered_until(self) -> float:
        """Until when Redis surely still lists this instance (monotonic): see the cap above."""
        return self._registered_until

    @classmethod
    def forever(cls) -> Lease:
        """No Redis, no other instance: nothing to be told about, always valid."""
        lease = cls(1.0)
        lease.until = math.inf
        return lease

    def renew(self, ping_sent_at: float, now: float) -> bool:
        """A PONG arrived for a PING sent at `ping_sent_at`; True if the lease had lapsed."""
        lapsed = 0.0 < self.until <= now
        self._pinged_until = max(self._pinged_until, ping_sent_at + self._duration)
        self.until = min(self._pinged_until, self._registered_until)
        return lapsed

    def registered(self, sent_at: float, valid_for: float) -> None:
        """A registration sent at `sent_at` was stored for `valid_for` seconds (Redis' clock)."""
        self._registered_until = max(self._registered_until, sent_at + valid_for / 2)
        self.until = min(self._pinged_until, self._registered_until)

    def drop(self) -> None:
        """The channel is gone: no lease until a new session earns one."""
        self._pinged_until = 0.0
        self.until = 0.0
