"""Marking the items an API write changes, so that the stream consumer can tell the changes the
API has already invalidated from changes made outside it (service.streams.consumer).

While a write use case runs inside `recording(region)`, every write call the Table sends is
stamped: each item it puts or updates gets `changeId = <region>/<write id>.<call>` (one value
per call, so that one write changing an item twice leaves two different marks), and once the
call succeeds the keys it changed are noted in the active `ChangeSet`. The use case hands the
set to its ledger after its invalidation returned (service.catalog.writes). A console user who
edits an item later keeps its mark unchanged, and one who copies an item to a new key copies a
mark that no ledger entry names for that key: both are outside changes to the consumer.

The same calls carry the write's request id (`_rid`), so that the consumer's log lines about a
change name the request that made it. An update without one removes the attribute: an id left
by an earlier write must not be read as this one's. The marks of these calls end in `r`, so a
mark left by a release before request ids (whose updates leave an older id in place, and
whose replacing puts carry it over as an attribute they do not know) is told apart. Only the
mark says a record is the API's change (a copied item carries a stale id too), so the consumer
trusts the id of a record the ledger holds, under a mark ending in `r`, and of no other
(service.streams.attribution).

A context variable, not a parameter: the repositories' signatures (also implemented by the
migration phases' stores) stay what the use cases need, and a write that happens in another
task (a background reconciler) is simply not stamped.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from ulid import ULID

from service.store.keys import PK, SK
from service.store.versions import CHANGE_ATTRIBUTE, REQUEST_ATTRIBUTE

ItemKey = tuple[str, str]
# What a write notes for a key it deleted, since REMOVE records carry no mark; the ledger adds
# the request id after it, as REMOVE records carry no `_rid` either (service.streams.ledger).
REMOVED = "-"
_WITH_REQUEST = "r"  # ends the mark of a call that also set (or removed) `_rid`
_NAME, _VALUE = "#hh_change", ":hh_change"
_RID_NAME, _RID_VALUE = "#hh_rid", ":hh_rid"
_SET = re.compile(r"(^|\s)SET\s", re.IGNORECASE)
_REMOVE = re.compile(r"(^|\s)REMOVE\s", re.IGNORECASE)

_active: ContextVar[ChangeSet | None] = ContextVar("hustlehub_change", default=None)


@dataclass(slots=True)
class ChangeSet:
    region: str
    request_id: str | None = None
    write_id: str = field(default_factory=lambda: str(ULID()))
    # key -> the mark its last change carried, or REMOVED
    changed: dict[ItemKey, str] = field(default_factory=dict)
    open: bool = True
    _calls: int = 0

    def stamped(self, operation: str, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """The request with this write's mark on every item it puts or updates."""
        if not self.open or operation not in _WRITES:
            return dict(kwargs)
        self._calls += 1
        mark = f"{self.region}/{self.write_id}.{self._calls}{_WITH_REQUEST}"
        out = dict(kwargs)
        stamp = _Stamp(mark, self.request_id)
        if operation == "PutItem":
            out["Item"] = _marked(kwargs["Item"], stamp)
        elif operation == "UpdateItem":
            out.update(_marked_update(kwargs, stamp))
        elif operation == "TransactWriteItems":
            out["TransactItems"] = [
                _marked_action(entry, stamp) for entry in kwargs["TransactItems"]
            ]
        elif operation == "BatchWriteItem":
            out["RequestItems"] = {
                table: [_marked_request(request, stamp) for request in requests]
                for table, requests in kwargs["RequestItems"].items()
            }
        return out

    def committed(self, operation: str, kwargs: Mapping[str, Any]) -> None:
        """Note what a stamped call changed, once DynamoDB has accepted it."""
        if not self.open or operation not in _WRITES:
            return
        for key, mark in _changes(operation, kwargs):
            self.changed[key] = mark


_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"})


@contextlib.contextmanager
def recording(region: str, *, request_id: str | None = None) -> Iterator[ChangeSet]:
    change = ChangeSet(region, request_id or None)
    token = _active.set(change)
    try:
        yield change
    finally:
        change.open = False  # a task that outlives the write stamps nothing more
        _active.reset(token)


def active() -> ChangeSet | None:
    return _active.get()


def item_key(item: Mapping[str, Any]) -> ItemKey:
    return str(item[PK]["S"]), str(item[SK]["S"])


def mark_of(image: Mapping[str, Any] | None) -> str | None:
    value = None if image is None else image.get(CHANGE_ATTRIBUTE)
    if isinstance(value, Mapping) and isinstance(value.get("S"), str):
        return str(value["S"])
    return None


def region_of(mark: str) -> str:
    return mark.partition("/")[0]


def request_of(image: Mapping[str, Any] | None) -> str | None:
    """The request id the write that left the image's mark wrote with it, if any. Whether that
    write is the change at hand, only the ledger says (service.streams.attribution)."""
    mark = mark_of(image)
    if image is None or mark is None or not mark.endswith(_WITH_REQUEST):
        return None
    value = image.get(REQUEST_ATTRIBUTE)
    if isinstance(value, Mapping) and isinstance(value.get("S"), str) and value["S"]:
        return str(value["S"])
    return None


@dataclass(frozen=True, slots=True)
class _Stamp:
    mark: str
    request_id: str | None


def _marked(item: Mapping[str, Any], stamp: _Stamp) -> dict[str, Any]:
    # A put replaces the whole item: without an id there is no old one left to remove.
    marked = {name: value for name, value in item.items() if name != REQUEST_ATTRIBUTE}
    marked[CHANGE_ATTRIBUTE] = {"S": stamp.mark}
    if stamp.request_id is not None:
        marked[REQUEST_ATTRIBUTE] = {"S": stamp.request_id}
    return marked


def _marked_update(body: Mapping[str, Any], stamp: _Stamp) -> dict[str, Any]:
    expression = str(body["UpdateExpression"])
    assignment = f"{_NAME} = {_VALUE}"
    values: dict[str, Any] = {_VALUE: {"S": stamp.mark}}
    if stamp.request_id is not None:
        assignment = f"{assignment}, {_RID_NAME} = {_RID_VALUE}"
        values[_RID_VALUE] = {"S": stamp.request_id}
    expression = _with_clause(expression, _SET, "SET", assignment)
    if stamp.request_id is None:
        expression = _with_clause(expression, _REMOVE, "REMOVE", _RID_NAME)
    return {
        **body,
        "UpdateExpression": expression,
        "ExpressionAttributeNames": {
            **body.get("ExpressionAttributeNames", {}),
            _NAME: CHANGE_ATTRIBUTE,
            _RID_NAME: REQUEST_ATTRIBUTE,
        },
        "ExpressionAttributeValues": {**body.get("ExpressionAttributeValues", {}), **values},
    }


def _with_clause(expression: str, clause: re.Pattern[str], keyword: str, action: str) -> str:
    """`action` added to the expression's `keyword` clause (an expression has each at most
    once), or that clause added."""
    found = clause.search(expression)
    if found:
        at = found.end()
        return f"{expression[:at]}{action}, {expression[at:]}"
    return f"{expression} {keyword} {action}"


def _marked_action(entry: Mapping[str, Any], stamp: _Stamp) -> dict[str, Any]:
    if "Put" in entry:
        return {"Put": {**entry["Put"], "Item": _marked(entry["Put"]["Item"], stamp)}}
    if "Update" in entry:
        return {"Update": _marked_update(entry["Update"], stamp)}
    return dict(entry)


def _marked_request(request: Mapping[str, Any], stamp: _Stamp) -> dict[str, Any]:
    if "PutRequest" in request:
        return {"PutRequest": {"Item": _marked(request["PutRequest"]["Item"], stamp)}}
    return dict(request)


def _changes(operation: str, kwargs: Mapping[str, Any]) -> Iterator[tuple[ItemKey, str]]:
    if operation == "PutItem":
        yield item_key(kwargs["Item"]), _mark_in(kwargs["Item"])
    elif operation == "UpdateItem":
        yield item_key(kwargs["Key"]), str(kwargs["ExpressionAttributeValues"][_VALUE]["S"])
    elif operation == "DeleteItem":
        yield item_key(kwargs["Key"]), REMOVED
    elif operation == "TransactWriteItems":
        for entry in kwargs["TransactItems"]:
            if "Put" in entry:
                yield item_key(entry["Put"]["Item"]), _mark_in(entry["Put"]["Item"])
            elif "Update" in entry:
                body = entry["Update"]
                yield item_key(body["Key"]), str(body["ExpressionAttributeValues"][_VALUE]["S"])
            elif "Delete" in entry:
                yield item_key(entry["Delete"]["Key"]), REMOVED
    elif operation == "BatchWriteItem":
        for requests in kwargs["RequestItems"].values():
            for request in requests:
                if "PutRequest" in request:
                    item = request["PutRequest"]["Item"]
                    yield item_key(item), _mark_in(item)
                else:
                    yield item_key(request["DeleteRequest"]["Key"]), REMOVED


def _mark_in(item: Mapping[str, Any]) -> str:
    return str(item[CHANGE_ATTRIBUTE]["S"])
