"""`hustlehub schema upgrade`: rewrite the items older than the current schema version in place.

- Parallel: the table is read as `segments` parallel Scan segments, one task each.
- Resumable: after every page, each segment's position (its LastEvaluatedKey) and the counts
  so far are written to a checkpoint file; a run that finds one for the same table and
  segment count carries on from there (an item upgraded twice is skipped the second time).
- Within a capacity budget: reads and writes each draw on a token bucket of capacity units per
  second (`Budget`), charged what DynamoDB reports or, where it reports less than the item
  sizes imply (an emulator), what the sizes imply.
- Never over a newer write: each rewrite is an UpdateItem that SETs only what the upgrade
  changes, conditioned on the item still existing, still being older than the current version
  and still holding the text it read; an item someone changed since is counted and left alone
  (whoever changed it wrote it in their own version).
- A dry run reads and counts, and writes nothing.

What an upgrade writes (`upgrade_request`): the version stamp; each long text field packed
(service.store.packing); and, for an audit event without one, its `expiresAt` (the lifecycle
the rules give it). Nothing else is touched: attributes this release does not know stay.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from service.store import keys, packing, versions
from service.store.codec import Item, item_size, serialize
from service.store.keys import TTL_ATTRIBUTE
from service.store.rules import ItemRules
from service.store.table import ConditionFailed, Table

WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096
MAX_PAGES = 1_000_000


class Budget:
    """A token bucket of capacity units: `spend` takes units and, once the bucket is in debt,
    sleeps until the rate has paid it back. The average over any run stays at or under
    `per_s` plus one burst."""

    def __init__(
        self,
        per_s: float,
        *,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if per_s <= 0:
            raise ValueError("a budget needs a positive rate")
        self.per_s = per_s
        self.burst = burst if burst is not None else per_s
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.burst
        self._at = clock()
        self.spent = 0.0

    async def spend(self, units: float) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.per_s)
        self._at = now
        self._tokens -= units
        self.spent += units
        if self._tokens < 0:
            await self._sleep(-self._tokens / self.per_s)


@dataclass
class Counts:
    scanned: int = 0
    by_version: Counter[int] = field(default_factory=Counter)
    to_upgrade: Counter[str] = field(default_factory=Counter)  # by item kind
    upgraded: int = 0
    changed_meanwhile: int = 0  # a condition failed: someone wrote the item since we read it
    read_units: float = 0.0
    write_units: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "scanned": self.scanned,
            "by_version": {str(k): v for k, v in sorted(self.by_version.items())},
            "to_upgrade": dict(sorted(self.to_upgrade.items())),
            "upgraded": self.upgraded,
            "changed_meanwhile": self.changed_meanwhile,
            "read_units": round(self.read_units, 1),
            "write_units": round(self.write_units, 1),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Counts:
        return cls(
            scanned=int(data["scanned"]),
            by_version=Counter({int(k): int(v) for k, v in data["by_version"].items()}),
            to_upgrade=Counter({str(k): int(v) for k, v in data["to_upgrade"].items()}),
            upgraded=int(data["upgraded"]),
            changed_meanwhile=int(data["changed_meanwhile"]),
            read_units=float(data["read_units"]),
            write_units=float(data["write_units"]),
        )


class Checkpoint:
    """Each segment's position after its last finished page, and the counts, in one JSON file
    replaced atomically (a run killed mid-write leaves the previous one)."""

    def __init__(self, path: Path, *, table: str, segments: int, dry_run: bool) -> None:
        self.path = path
        self._identity = {"table": table, "segments": segments, "dry_run": dry_run}
        self.positions: dict[int, Item | None] = {}
        self.done: set[int] = set()
        self.counts = Counts()

    def load(self) -> bool:
        """True when a checkpoint of the same run was found and taken up."""
        if not self.path.exists():
            return False
        data = json.loads(self.path.read_text())
        if {k: data.get(k) for k in self._identity} != self._identity:
            raise ValueError(
                f"{self.path} belongs to another run ({data.get('table')}, {data.get('segments')}"
                " segments): pass --restart or another --checkpoint"
            )
        self.positions = {int(k): _key_from_json(v) for k, v in data["positions"].items()}
        self.done = {int(k) for k in data["done"]}
        self.counts = Counts.from_json(data["counts"])
        return True

    def save(self) -> None:
        data = {
            **self._identity,
            "positions": {str(k): _key_to_json(v) for k, v in self.positions.items()},
            "done": sorted(self.done),
            "counts": self.counts.to_json(),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(self.path.suffix + ".partial")
        partial.write_text(json.dumps(data, indent=1))
        partial.replace(self.path)


def _key_to_json(key: Item | None) -> dict[str, str] | None:
    return None if key is None else {name: value["S"] for name, value in key.items()}


def _key_from_json(raw: Mapping[str, str] | None) -> Item | None:
    return None if raw is None else {name: {"S": value} for name, value in raw.items()}


def kind_of(item: Mapping[str, Any]) -> str:
    pk, sk = item.get(keys.PK, {}).get("S", ""), item.get(keys.SK, {}).get("S", "")
    return keys.kind_of(pk, sk) or "Unknown"


def upgrade_request(item: Item, rules: ItemRules) -> dict[str, Any] | None:
    """The UpdateItem arguments (without TableName) that bring `item` to the current version
    and lifecycle; None when there is nothing to do."""
    older = versions.version_of(item) < versions.CURRENT
    sets: dict[str, Any] = {}
    guards: list[str] = ["attribute_exists(PK)"]
    values: dict[str, Any] = {}
    names: dict[str, str] = {}
    if older:
        sets[versions.ATTRIBUTE] = serialize(versions.CURRENT)
        guards.append("(attribute_not_exists(#ver) OR #ver < :current)")
        names["#ver"] = versions.ATTRIBUTE
        values[":current"] = serialize(versions.CURRENT)
        for index, name in enumerate(sorted(packing.PACKED_FIELDS)):
            text = item.get(name, {}).get("S")
            if text is None:
                continue
            stored = packing.pack(text, min_bytes=rules.compress_min_bytes)
            if isinstance(stored, bytes):
                sets[name] = {"B": stored}
                # Still the text we read: an older release may have rewritten it since.
                names[f"#t{index}"] = name
                values[f":t{index}"] = {"S": text}
                guards.append(f"#t{index} = :t{index}")
    expiry = _audit_expiry(item, rules)
    if expiry is not None:
        sets[TTL_ATTRIBUTE] = serialize(expiry)
        guards.append(f"attribute_not_exists({TTL_ATTRIBUTE})")
    if not sets:
        return None
    assignments = []
    for index, (name, value) in enumerate(sets.items()):
        names[f"#s{index}"] = name
        values[f":s{index}"] = value
        assignments.append(f"#s{index} = :s{index}")
    return {
        "Key": {keys.PK: item[keys.PK], keys.SK: item[keys.SK]},
        "UpdateExpression": "SET " + ", ".join(assignments),
        "ConditionExpression": " AND ".join(guards),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }


def _audit_expiry(item: Item, rules: ItemRules) -> int | None:
    if kind_of(item) != "AuditEvent" or TTL_ATTRIBUTE in item:
        return None
    at = item.get("at", {}).get("S")
    if at is None:
        return None
    return rules.audit_expiry(datetime.fromisoformat(at))


def _units(reported: object, estimate: float) -> float:
    """Units charged: what DynamoDB reported, or the sizes' figure when that is more."""
    entries = reported if isinstance(reported, list) else [reported] if reported else []
    total = sum(float(e.get("CapacityUnits", 0.0)) for e in entries if isinstance(e, Mapping))
    return max(total, estimate)


@dataclass(frozen=True, slots=True)
class Options:
    segments: int = 4
    dry_run: bool = False
    read_units_per_s: float = 100.0
    write_units_per_s: float = 50.0
    page_size: int = 100


class Upgrade:
    def __init__(
        self,
        table: Table,
        rules: ItemRules,
        options: Options,
        checkpoint: Checkpoint,
        *,
        on_items: Callable[[int], None] = lambda _n: None,
        reads: Budget | None = None,
        writes: Budget | None = None,
    ) -> None:
        self._table = table
        self._rules = rules
        self._options = options
        self._checkpoint = checkpoint
        self._on_items = on_items
        self._reads = reads or Budget(options.read_units_per_s)
        self._writes = writes or Budget(options.write_units_per_s)

    @property
    def counts(self) -> Counts:
        return self._checkpoint.counts

    async def run(self) -> Counts:
        todo = [s for s in range(self._options.segments) if s not in self._checkpoint.done]
        await asyncio.gather(*(self._segment(s) for s in todo))
        return self.counts

    async def _segment(self, segment: int) -> None:
        start = self._checkpoint.positions.get(segment)
        for _ in range(MAX_PAGES):
            kwargs: dict[str, Any] = {
                "Segment": segment,
                "TotalSegments": self._options.segments,
                "Limit": self._options.page_size,
                # Strongly consistent: the text the condition guards is the text we read.
                "ConsistentRead": True,
            }
            if start is not None:
                kwargs["ExclusiveStartKey"] = start
            response = await self._table.call("Scan", **kwargs)
            items: list[Item] = response.get("Items", [])
            size = sum(item_size(item) for item in items)
            units = _units(response.get("ConsumedCapacity"), math.ceil(size / READ_UNIT_BYTES))
            self.counts.read_units += units
            await self._reads.spend(units)
            for item in items:
                await self._one(item)
            start = response.get("LastEvaluatedKey")
            self._checkpoint.positions[segment] = start
            if start is None:
                self._checkpoint.done.add(segment)
            self._checkpoint.save()
            self._on_items(len(items))
            if start is None:
                return
        raise RuntimeError(f"segment {segment} did not end within {MAX_PAGES} pages")

    async def _one(self, item: Item) -> None:
        counts = self.counts
        counts.scanned += 1
        counts.by_version[versions.version_of(item)] += 1
        request = upgrade_request(item, self._rules)
        if request is None:
            return
        counts.to_upgrade[kind_of(item)] += 1
        if self._options.dry_run:
            return
        before = item_size(item)
        after = before + sum(item_size({k: v}) for k, v in _set_values(request).items())
        try:
            response = await self._table.call("UpdateItem", **request)
        except ConditionFailed:
            counts.changed_meanwhile += 1
            estimate = 1.0  # a failed condition still costs a write unit
            reported: object = None
        else:
            counts.upgraded += 1
            estimate = math.ceil(max(before, after) / WRITE_UNIT_BYTES)
            reported = response.get("ConsumedCapacity")
        units = _units(reported, estimate)
        counts.write_units += units
        await self._writes.spend(units)


def _set_values(request: Mapping[str, Any]) -> dict[str, Any]:
    names, values = request["ExpressionAttributeNames"], request["ExpressionAttributeValues"]
    return {names[f"#s{i}"]: values[f":s{i}"] for i in range(len(names)) if f"#s{i}" in names}
