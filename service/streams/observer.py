"""What the stream consumer reports. `metrics.streams.StreamMetrics` implements it
structurally; `NullStreamObserver` is for callers that keep no metrics."""

from __future__ import annotations

from typing import Protocol


class StreamObserver(Protocol):
    def record(self, event: str, *, invalidates: bool, handled: bool = False) -> None:
        """One stream record applied. event: INSERT | MODIFY | REMOVE; `handled`: the API's own
        change, which it had invalidated (so the consumer did not)."""

    def invalidated(self, tags: int) -> None:
        """One cache invalidation sent for a batch of records, naming `tags` tags."""

    def lag(self, seconds: float) -> None:
        """Age of the newest record of a batch once its invalidation was sent."""

    def error(self, operation: str, code: str) -> None:
        """A stream or cache call failed (and will be retried after a backoff)."""

    def shards(self, count: int) -> None:
        """Shards being read now."""


class NullStreamObserver:
    def record(self, event: str, *, invalidates: bool, handled: bool = False) -> None:
        pass

    def invalidated(self, tags: int) -> None:
        pass

    def lag(self, seconds: float) -> None:
        pass

    def error(self, operation: str, code: str) -> None:
        pass

    def shards(self, count: int) -> None:
        pass
