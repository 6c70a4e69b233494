"""The observer the cache reports to. `metrics` implements it structurally; names are fixed."""

from __future__ import annotations

from typing import Literal, Protocol

# Bounded label values: metrics may use these as Prometheus label values.
Layer = Literal["memory", "redis"]
Operation = Literal["get", "set", "invalidate", "subscribe", "decode", "publish", "register"]
LoadOutcome = Literal["ok", "error"]
BreakerState = Literal["closed", "open", "half_open"]
# How a write's barrier ended (cache.barrier): every live instance acked; some did not, and
# the wait ran until their leases lapsed; Redis did not take the invalidation.
BarrierOutcome = Literal["acked", "lease_expired", "redis_down"]
# Cut-off notices (cache.cutoff): this process's renewed or failed; a write that waited a lease
# for another's, or because it could not read them; a withdrawal that failed.
CutOffEvent = Literal["announced", "announce_failed", "waited", "check_failed", "withdraw_failed"]


class CacheObserver(Protocol):
    def hit(self, layer: str) -> None: ...
    def miss(self, layer: str) -> None: ...
    def error(self, layer: str, operation: str) -> None: ...
    def eviction(self, layer: str, count: int) -> None: ...
    def load_finished(self, seconds: float, outcome: str) -> None: ...
    def stale_served(self, layer: str) -> None: ...
    def breaker_state(self, state: str) -> None: ...
    def invalidation_delay(self, seconds: float) -> None: ...
    def barrier_finished(self, seconds: float, outcome: str) -> None: ...
    def lease_lapsed(self) -> None: ...
    def cut_off(self, event: str) -> None: ...


class NullObserver:
    def hit(self, layer: str) -> None:
        pass

    def miss(self, layer: str) -> None:
        pass

    def error(self, layer: str, operation: str) -> None:
        pass

    def eviction(self, layer: str, count: int) -> None:
        pass

    def load_finished(self, seconds: float, outcome: str) -> None:
        pass

    def stale_served(self, layer: str) -> None:
        pass

    def breaker_state(self, state: str) -> None:
        pass

    def invalidation_delay(self, seconds: float) -> None:
        pass

    def barrier_finished(self, seconds: float, outcome: str) -> None:
        pass

    def lease_lapsed(self) -> None:
        pass

    def cut_off(self, event: str) -> None:
        pass
