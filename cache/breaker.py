"""A consecutive-failure circuit breaker for the Redis layer.

closed -> (failure_threshold consecutive failures) -> open for `open_for` seconds ->
half_open: `allow()` admits ONE probe; its success closes the breaker, its failure re-opens
it. A probe that never reports (its caller was cancelled) does not wedge the breaker: another
probe is admitted after a further `open_for`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from cache.observer import BreakerState


class Breaker:
    def __init__(
        self,
        *,
        failure_threshold: int = 3,
        open_for: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1 or open_for <= 0:
            raise ValueError("failure_threshold must be >= 1 and open_for > 0")
        self._threshold = failure_threshold
        self._open_for = open_for
        self._clock = clock
        self._state: BreakerState = "closed"
        self._failures = 0
        self._retry_at = 0.0
        self._on_change: Callable[[str], None] = lambda state: None

    @property
    def state(self) -> BreakerState:
        return self._state

    def on_change(self, callback: Callable[[str], None]) -> None:
        self._on_change = callback

    def allow(self) -> bool:
        if self._state == "closed":
            return True
        now = self._clock()
        if now < self._retry_at:
            return False
        # Admit one probe; the next one only after another open period.
        self._retry_at = now + self._open_for
        self._set("half_open")
        return True

    def success(self) -> None:
        self._failures = 0
        self._set("closed")

    def failure(self) -> None:
        self._failures += 1
        if self._state == "half_open" or self._failures >= self._threshold:
            self._retry_at = self._clock() + self._open_for
            self._set("open")

    def _set(self, state: BreakerState) -> None:
        if state != self._state:
            self._state = state
            self._on_change(state)
