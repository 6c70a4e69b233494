"""The service's one error hierarchy.

Nothing here knows HTTP: `service.api.problems` maps each class to a status once. Vendor
errors (botocore, redis, jwt) are translated at their adapter and chained with `from exc`.
Exceptions used for control flow (a store's "already saved", "read again") are not errors of
the service and do not belong here: they have their own base (`service.store.txn.ControlFlow`),
so one that escaped could never take the status of one of these.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class ServiceError(Exception):
    """Root of every error the service raises on purpose."""


class NotFound(ServiceError):
    pass


class Conflict(ServiceError):
    """A uniqueness rule or a state rule refused the write (taken slug, non-empty category)."""


class VersionMismatch(ServiceError):
    """An optimistic-locking write named a version that is no longer current.

    `current_version` is the version that won, when the store saw it (it lets the use case
    give the loser the next turn, see `service.catalog.turns`).
    """

    def __init__(self, message: str, *, current_version: int | None = None) -> None:
        super().__init__(message)
        self.current_version = current_version


class PreconditionRequired(ServiceError):
    """A write that must name the version it read did not."""


class BadInput(ServiceError):
    """Input that is malformed as a whole (a tampered cursor, a bad limit)."""


@dataclass(frozen=True, slots=True)
class FieldError:
    loc: tuple[str | int, ...]
    msg: str


class InvalidFields(ServiceError):
    """Input that parses but breaks a field rule (422)."""

    def __init__(self, message: str, errors: Sequence[FieldError]) -> None:
        super().__init__(message)
        self.errors = tuple(errors)


class ItemTooLarge(ServiceError):
    """A write whose item would be larger than DynamoDB accepts; refused before it is sent."""

    def __init__(self, what: str, size: int, limit: int) -> None:
        super().__init__(
            f"the {what} would take {size:,} bytes in the table, over the {limit:,}-byte item"
            " limit: shorten its text"
        )
        self.size = size
        self.limit = limit


class Unauthenticated(ServiceError):
    """No valid access token. `reason` is one of a small fixed set, safe to count."""

    def __init__(self, reason: str, message: str = "invalid or missing access token") -> None:
        super().__init__(message)
        self.reason = reason


class Forbidden(ServiceError):
    pass


class StoreError(ServiceError):
    """DynamoDB failed in a way the caller cannot fix. `code` is the AWS error code."""

    def __init__(self, message: str, *, code: str = "Unknown") -> None:
        super().__init__(message)
        self.code = code


class StoreUnavailable(StoreError):
    """DynamoDB is unreachable, throttling past the retry budget, or past its deadline."""

    def __init__(self, message: str, *, code: str = "Unavailable", retry_after: int = 1) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class RequestTimeout(ServiceError):
    """The request ran past its deadline."""
