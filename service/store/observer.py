"""What the data access layer reports about DynamoDB calls.

`metrics.dynamodb.DynamoMetrics` implements this structurally; tests use `NullStoreObserver`
or a recording fake. Labels passed here come from bounded sets: operation names of the
DynamoDB API, AWS error codes, the table name and index name.
"""

from __future__ import annotations

from typing import Protocol


class StoreObserver(Protocol):
    def call_finished(
        self,
        operation: str,
        seconds: float,
        outcome: str,
        error_code: str | None,
        *,
        trace_id: str | None = None,
    ) -> None:
        """One logical call (all its attempts) ended. outcome: ok | error | throttled | timeout.
        `trace_id`: the trace of the call's span, when tracing sampled it (an exemplar)."""

    def retried(self, operation: str, error_code: str) -> None: ...

    def throttled(self, operation: str) -> None: ...

    def consumed(
        self, table: str, index: str | None, read_units: float, write_units: float
    ) -> None: ...

    def unprocessed(self, operation: str, count: int) -> None: ...


class NullStoreObserver:
    def call_finished(
        self,
        operation: str,
        seconds: float,
        outcome: str,
        error_code: str | None,
        *,
        trace_id: str | None = None,
    ) -> None:
        pass

    def retried(self, operation: str, error_code: str) -> None:
        pass

    def throttled(self, operation: str) -> None:
        pass

    def consumed(
        self, table: str, index: str | None, read_units: float, write_units: float
    ) -> None:
        pass

    def unprocessed(self, operation: str, count: int) -> None:
        pass
