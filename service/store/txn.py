"""A TransactWriteItems builder whose items each say what their failed condition means.

DynamoDB answers a cancelled transaction with one reason per item, in request order. Each item
added here carries a mapper from its reason to a domain error (or a `ControlFlow` signal the
store handles itself); `commit` raises the one of the first item (in request order) whose
condition failed, so callers order items by priority.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from service.errors import ServiceError
from service.store.codec import Item, serialize
from service.store.table import CancellationReason, Table, TransactionCancelled

MAX_ITEMS = 100


class ControlFlow(Exception):
    """A failed condition that is an answer for the store, not an error for the caller
    ("already saved", "read again"): raised by `commit`, caught by the store that set it.

    Deliberately outside the ServiceError hierarchy: one that escaped its store would be an
    unhandled failure (a logged 500), never mistaken for an error with a status of its own.
    Each subclass is private to the store module(s) that raise and catch it.
    """


# What a failed condition means: an error for the caller, or a signal for the store.
Refusal = ServiceError | ControlFlow
OnFail = Callable[[CancellationReason], Refusal]


def raises(error: ServiceError) -> OnFail:
    return lambda _reason: error


class Transaction:
    def __init__(self) -> None:
        self._items: list[dict[str, Any]] = []
        self._on_fail: list[OnFail | None] = []

    def __len__(self) -> int:
        return len(self._items)

    def _add(
        self,
        action: str,
        body: dict[str, Any],
        condition: str | None,
        values: Mapping[str, object] | None,
        on_fail: OnFail | None,
        names: Mapping[str, str] | None = None,
    ) -> None:
        if len(self._items) >= MAX_ITEMS:
            raise ValueError("a transaction holds at most 100 items")
        if condition is not None:
            body["ConditionExpression"] = condition
            # The failing item's current state lets mappers tell "gone" from "changed".
            body["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        if values:
            body["ExpressionAttributeValues"] = {
                name: serialize(value) for name, value in values.items()
            }
        if names:
            body["ExpressionAttributeNames"] = dict(names)
        self._items.append({action: body})
        self._on_fail.append(on_fail)

    def put(
        self,
        item: Item,
        *,
        condition: str | None = None,
        values: Mapping[str, object] | None = None,
        on_fail: OnFail | None = None,
    ) -> None:
        self._add("Put", {"Item": item}, condition, values, on_fail)

    def update(
        self,
        key: Mapping[str, Any],
        expression: str,
        *,
        condition: str | None = None,
        values: Mapping[str, object] | None = None,
        names: Mapping[str, str] | None = None,
        on_fail: OnFail | None = None,
    ) -> None:
        body = {"Key": dict(key), "UpdateExpression": expression}
        self._add("Update", body, condition, values, on_fail, names)

    def delete(
        self,
        key: Mapping[str, Any],
        *,
        condition: str | None = None,
        values: Mapping[str, object] | None = None,
        on_fail: OnFail | None = None,
    ) -> None:
        self._add("Delete", {"Key": dict(key)}, condition, values, on_fail)

    def check(
        self,
        key: Mapping[str, Any],
        condition: str,
        *,
        values: Mapping[str, object] | None = None,
        on_fail: OnFail,
    ) -> None:
        self._add("ConditionCheck", {"Key": dict(key)}, condition, values, on_fail)

    async def commit(self, table: Table) -> None:
        items = [
            {action: {**body, "TableName": table.name}}
            for entry in self._items
            for action, body in entry.items()
        ]
        try:
            await table.call("TransactWriteItems", TransactItems=items)
        except TransactionCancelled as exc:
            for reason, on_fail in zip(exc.reasons, self._on_fail, strict=False):
                if reason.code == "ConditionalCheckFailed" and on_fail is not None:
                    raise on_fail(reason) from exc
            raise
