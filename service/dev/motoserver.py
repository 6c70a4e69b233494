"""moto's server (`python -m service.dev.motoserver`, same arguments as `python -m moto.server`),
with the costs that made it, not the service, the bottleneck of a load test made smaller:
three that grow with the table (1-3), one paid per answer (4), and the collector's pauses (5).

moto 5.2 keeps a table as a dict of partitions, but:
1. TransactWriteItems deep-copies every table it names, once per action, to restore on
   failure. Here the backup is a copy of the items the transaction names; on failure they are
   put back as they were (or deleted where they did not exist), which is the same state.
   Transactions are also serialised with a lock (the server is threaded), so two of them no
   longer interleave, as they cannot on DynamoDB.
2. Query on the base table sorts every item of the table, then keeps one partition. Here it
   is handed that partition only.
3. Query on a global secondary index does the same. Here each index gets a map from its
   partition key to items, built with the table's first write (so empty) and kept current by
   put, update and delete.
moto's own query code still does the key conditions, ordering, filters, projection and
paging on what it is handed, so answers are moto's, only found without the full sort. At the
load test's 10x data set (~420k items) each of these cost seconds per call, enough to fail
the write SLO and to stall every other call behind it on the emulator alone.
4. moto writes every answer by walking botocore's output shape member by member, which was
   80% of a 50-item Query (about 200 ms of its 250, py-spy), after converting the items to
   dicts in a recursive function that runs an import statement per value. The item
   operations' answers hold nothing the shape walk changes but bytes (base64) and absent
   members (None: left out), so they are converted in one pass and written with json.dumps.
   Errors and every other operation still go through moto's conversion and serializer.
6. Scan sorts every item of the table on every page, then walks from the first item to the
   page's start key comparing keys in Python: a full scan is quadratic (a 400k-item table:
   over 30 s a page). Here the sorted keys of a table are kept until the next write that can
   add or remove a key, the start is found by bisection, and moto's scan is handed the items
   of one page's worth of keys after it, so a page costs what the page holds.
5. At 10x the server holds millions of objects, and one of CPython's full collections walks
   them all: 2.2 s measured with 400k moto items, a pause in which every call waits (the
   load test's catalogue crawl hit the service's 3 s deadline on one). Every few seconds the
   young generations are collected and what survived is frozen (gc.freeze), so a full
   collection walks only what is newer. The price is that a reference cycle alive at a freeze
   is never collected; the table's items are not garbage anyway.

Dev mode and the tests run this; nothing in the service depends on it, and real DynamoDB or
DynamoDB Local need nothing of the kind.
"""

from __future__ import annotations

import base64
import bisect
import copy
import gc
import inspect
import json
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from enum import Enum
from typing import Any

from moto.core.responses import ActionContext, ActionResult
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table
from moto.dynamodb.models.utilities import dynamo_to_dict
from moto.dynamodb.responses import DynamoResult
from moto.server import main as moto_main

from service.dev import preflight

_moto_transact_write_items = DynamoDBBackend.transact_write_items
_moto_update_item = DynamoDBBackend.update_item
_moto_query = Table.query
_moto_all_items = Table.all_items
_moto_put_item = Table.put_item
_moto_delete_item = Table.delete_item
_moto_scan = Table.scan
_moto_execute_result = DynamoResult.execute_result
_QUERY = inspect.signature(Table.query)
_SCAN = inspect.signature(Table.scan)
# Keys handed to one Scan page: more than a 1 MB page holds of any item over 50 bytes. A page
# that ends at the slice instead of at 1 MB is still a legal page (it carries its key).
_SCAN_SLICE = 20_000
_transactions = threading.Lock()
# One lock for the index maps; the candidates a query is handed are per thread.
_indexing = threading.RLock()
_handed = threading.local()

PrimaryKey = tuple[DynamoType, DynamoType | None]


class _GsiMaps:
    """Per table: index name -> partition key value -> {primary key: item}, for every global
    index with a single partition key attribute, and primary key -> {index name: value} to
    unindex an item. Built when the table is first written or queried (on a new table: empty,
    so free), then kept current by every write."""

    def __init__(self, table: Table) -> None:
        self.by_index: dict[str, dict[DynamoType, dict[PrimaryKey, Item]]] = {}
        self.hash_attr: dict[str, str] = {}
        self.entries: dict[PrimaryKey, dict[str, DynamoType]] = {}
        for index in table.global_indexes:
            attrs = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]
            if len(attrs) == 1:
                self.hash_attr[index.name] = attrs[0]
                self.by_index[index.name] = {}
        for item in _moto_all_items(table):
            self.put(item)

    def put(self, item: Item) -> None:
        key = (item.hash_key, item.range_key)
        self.remove(key)
        for index_name, partitions in self.by_index.items():
            value = item.attrs.get(self.hash_attr[index_name])
            if value is not None:
                partitions.setdefault(value, {})[key] = item
                self.entries.setdefault(key, {})[index_name] = value

    def remove(self, key: PrimaryKey) -> None:
        for index_name, value in self.entries.pop(key, {}).items():
            self.by_index[index_name].get(value, {}).pop(key, None)


def _maps(table: Table) -> _GsiMaps:
    maps: _GsiMaps | None = table.__dict__.get("_hh_gsi_maps")
    if maps is None:
        maps = table.__dict__["_hh_gsi_maps"] = _GsiMaps(table)
    return maps


def all_items(self: Table) -> list[Item]:
    if getattr(_handed, "table", None) is self:
        return list(_handed.items)
    return _moto_all_items(self)


def query(self: Table, *args: Any, **kwargs: Any) -> Any:
    bound = _QUERY.bind(self, *args, **kwargs)
    hash_key: DynamoType | None = bound.arguments.get("hash_key")
    index_name: str | None = bound.arguments.get("index_name")
    conditions = bound.arguments.get("hash_key_conditions") or []
    if index_name is not None and len(conditions) == 1:
        hash_key = conditions[0][1]
    if hash_key is None or (index_name is not None and len(conditions) > 1):
        return _moto_query(self, *args, **kwargs)  # multi-attribute keys: moto's own way
    with _indexing:
        if index_name is None:
            partition = self.items.get(hash_key)
            if partition is None:
                candidates: list[Item] = []
            elif self.range_key_attr:
                candidates = list(partition.values())
            else:
                candidates = [partition]  # type: ignore[list-item]
        elif index_name in _maps(self).by_index:
            candidates = list(_maps(self).by_index[index_name].get(hash_key, {}).values())
        else:
            return _moto_query(self, *args, **kwargs)  # a local index: moto's own way
    _handed.table, _handed.items = self, candidates
    try:
        return _moto_query(self, *args, **kwargs)
    finally:
        _handed.table = _handed.items = None


def _keys_changed(table: Table) -> None:
    table.__dict__.pop("_hh_sorted_keys", None)


def _sorted_keys(table: Table) -> list[PrimaryKey]:
    keys: list[PrimaryKey] | None = table.__dict__.get("_hh_sorted_keys")
    if keys is None:
        # Sorted by the plain values DynamoType compares (one property read per key), not by
        # DynamoType's own comparisons: at 1.6M keys those took over 30 s, these take seconds.
        keys = sorted(((i.hash_key, i.range_key) for i in _unsorted(table)), key=_plain)
        table.__dict__["_hh_sorted_keys"] = keys
    return keys


def _plain(key: PrimaryKey) -> tuple[Any, Any]:
    return key[0].cast_value, None if key[1] is None else key[1].cast_value


def _unsorted(table: Table) -> Iterator[Item]:
    for partition in table.items.values():
        if table.range_key_attr:
            yield from partition.values()
        else:
            yield partition  # type: ignore[misc]


def _item_at(table: Table, key: PrimaryKey) -> Item | None:
    partition = table.items.get(key[0])
    if partition is None or not table.range_key_attr:
        return partition  # type: ignore[return-value]
    return partition.get(key[1])


def scan(self: Table, *args: Any, **kwargs: Any) -> Any:
    bound = _SCAN.bind(self, *args, **kwargs)
    start: dict[str, Any] | None = bound.arguments.get("exclusive_start_key")
    plain = bound.arguments.get("index_name") is None and bound.arguments.get(
        "segments", (None, None)
    ) == (None, None)
    if not plain or self.range_key_attr is None:
        return _moto_scan(self, *args, **kwargs)  # an index, a parallel scan: moto's own way
    with _indexing:
        keys = _sorted_keys(self)
        position = 0
        if start is not None:
            first = DynamoType(start[self.hash_key_attr])
            second = DynamoType(start[self.range_key_attr])
            position = bisect.bisect_right(keys, _plain((first, second)), key=_plain)
        window = keys[position : position + _SCAN_SLICE]
        items = [i for i in (_item_at(self, k) for k in window) if i is not None]
        more = position + _SCAN_SLICE < len(keys)
    bound.arguments["exclusive_start_key"] = None  # the slice already starts after it
    _handed.table, _handed.items = self, items
    try:
        results, scanned, last_key = _moto_scan(*bound.args, **bound.kwargs)
    finally:
        _handed.table = _handed.items = None
    if last_key is None and more and items:
        last_key = self._get_last_evaluated_key(items[-1], None)
    return results, scanned, last_key


def put_item(self: Table, *args: Any, **kwargs: Any) -> Item:
    item = _moto_put_item(self, *args, **kwargs)
    with _indexing:
        _maps(self).put(item)
        _keys_changed(self)
    return item


def delete_item(self: Table, hash_key: DynamoType, range_key: DynamoType | None = None) -> Any:
    item = _moto_delete_item(self, hash_key, range_key)
    with _indexing:
        _maps(self).remove((hash_key, range_key))
        _keys_changed(self)
    return item


def update_item(self: DynamoDBBackend, table_name: str, *args: Any, **kwargs: Any) -> Item:
    # moto updates the item in place: index it again as it now is (an update can also create).
    item = _moto_update_item(self, table_name, *args, **kwargs)
    with _indexing:
        _maps(self.get_table(table_name)).put(item)
        _keys_changed(self.get_table(table_name))
    return item


def _named_keys(
    backend: DynamoDBBackend, actions: list[dict[str, Any]]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(table name, key) of every action whose table exists; moto validates the rest."""
    for action in actions:
        if len(action) != 1:
            continue
        op_type, op = next(iter(action.items()))
        table = backend.tables.get(op.get("TableName", ""))
        if table is None:
            continue
        if op_type == "Put":
            attrs = op.get("Item", {})
            names = [table.hash_key_attr, table.range_key_attr]
            key = {name: attrs[name] for name in names if name is not None and name in attrs}
        else:
            key = op.get("Key", {})
        yield table.name, key


def _same_table(table: Table, memo: dict[int, Any]) -> Table:
    return table


def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    with _transactions:
        backup: list[tuple[str, dict[str, Any], Any]] = []
        for table_name, key in _named_keys(self, transact_items):
            try:
                before = self.get_item(table_name, key)
            except Exception:  # noqa: BLE001, S112 - a malformed key: moto refuses the request
                continue
            backup.append((table_name, key, copy.deepcopy(before)))
        # While moto's own method runs, its table "backup" is the table itself: the restore
        # below is what undoes a failed transaction.
        Table.__deepcopy__ = _same_table  # type: ignore[attr-defined]
        try:
            _moto_transact_write_items(self, transact_items)
        except BaseException:
            for table_name, key, before in reversed(backup):
                if before is not None:
                    self.put_item(table_name, before.to_json()["Attributes"])
                elif self.get_item(table_name, key) is not None:
                    self.delete_item(table_name, key)
            raise
        finally:
            del Table.__deepcopy__  # type: ignore[attr-defined]


# Operations whose answers hold only items, keys, counts and capacities: no timestamps, no
# enums, nothing the output shape renames.
_ITEM_OPERATIONS = frozenset({
    "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem",
    "BatchWriteItem", "TransactGetItems", "TransactWriteItems",
})  # fmt: skip


def wire(value: Any) -> Any:
    """moto's answer as DynamoDB's JSON: what its conversion and the shape walk would write,
    for these answers."""
    if isinstance(value, DynamoType):
        kind, inner = value.type, value.value
        if kind == "B":
            return {"B": _base64(inner)}
        if kind == "BS":
            return {"BS": [_base64(v) for v in inner]}
        return {kind: wire(inner)}
    if isinstance(value, dict):
        return {k: wire(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [wire(v) for v in value]
    if isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, Enum):
        return value.value
    if hasattr(value, "to_json"):
        return wire(value.to_json())
    return value


def _base64(value: bytes | str) -> str:
    # moto holds a binary as bytes, or as the base64 text it was sent in (normalised here as
    # moto's decode and re-encode would).
    raw = value if isinstance(value, bytes) else base64.b64decode(value)
    return base64.b64encode(raw).decode("ascii")


def result_init(self: DynamoResult, result: object) -> None:
    # Kept as moto's handler built it; converted when written (execute_result).
    ActionResult.__init__(self, result)


def execute_result(
    self: ActionResult, context: ActionContext
) -> tuple[int, dict[str, Any], str | bytes]:
    result = self.result
    if context.operation_model.name not in _ITEM_OPERATIONS or not isinstance(result, dict):
        converted = DynamoResult.__new__(DynamoResult)
        ActionResult.__init__(converted, dynamo_to_dict(result))
        return _moto_execute_result(converted, context)
    version = context.service_model.metadata.get("jsonVersion", "1.0")
    headers = {"Content-Type": f"application/x-amz-json-{version}"}
    return 200, headers, json.dumps(wire(result), separators=(",", ":"))


DynamoResult.__init__ = result_init  # type: ignore[method-assign]
DynamoResult.execute_result = execute_result  # type: ignore[method-assign]
DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
DynamoDBBackend.update_item = update_item  # type: ignore[method-assign]
Table.query = query  # type: ignore[method-assign]
Table.scan = scan  # type: ignore[method-assign]
Table.all_items = all_items  # type: ignore[method-assign]
Table.put_item = put_item  # type: ignore[method-assign]
Table.delete_item = delete_item  # type: ignore[method-assign]


def freeze_survivors(interval_s: float) -> None:
    """Forever: collect the young generations, then freeze what survived (see point 5)."""
    while True:
        time.sleep(interval_s)
        gc.collect(1)
        gc.freeze()


if __name__ == "__main__":
    preflight.install()
    threading.Thread(target=freeze_survivors, args=(5.0,), daemon=True).start()
    moto_main(sys.argv[1:])
