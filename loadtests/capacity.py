"""DynamoDB capacity per 1,000 requests, from the service's own counters.

The service counts the capacity units DynamoDB reports on every data call (`Table.call` asks
each one for ReturnConsumedCapacity=INDEXES): `hustlehub_dynamodb_consumed_read_capacity_units
_total` and `..._write_...`, by table and index. Scraped from /metrics before and after a
phase of a load test, their deltas divided by the requests the server answered in that phase
(user traffic only: `loadtests.gate` leaves /metrics, /healthz and /readyz out) give the cost
of 1,000 requests. Base table and indexes are summed, as AWS bills them.

On moto (dev mode's emulator) the units are fixed per call whatever the item sizes (GetItem
0.5; Query, Scan, PutItem, DeleteItem, BatchWriteItem 1.0; BatchGetItem 1.0 per key) and
absent for UpdateItem and TransactWriteItems, which every admin write and every saved
favourite is: on moto the RCU figures count calls and the WCU figures are a floor. A category
page (a strongly consistent Query of 50 listings, ~24 KB) is 1.0 there and about 6 RCU on
DynamoDB (1 RCU per 4 KB read strongly consistent; a write is 1 WCU per 1 KB, twice that in a
transaction). So the report also gives DynamoDB calls per 1,000 requests by operation
(`hustlehub_dynamodb_requests_total`), which do not depend on the emulator.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

READ_UNITS = "hustlehub_dynamodb_consumed_read_capacity_units"
WRITE_UNITS = "hustlehub_dynamodb_consumed_write_capacity_units"
_KINDS = {READ_UNITS: "read", WRITE_UNITS: "write"}
CALLS = "hustlehub_dynamodb_requests"
MOTO_NOTE = (
    "on moto: fixed units per call whatever the item sizes (GetItem 0.5, Query/PutItem/"
    "DeleteItem 1.0, BatchGetItem 1.0 a key) and none for UpdateItem and TransactWriteItems, "
    "so RCU counts calls and WCU is a floor; DynamoDB bills by size"
)

# (kind "read" | "write", index label: "table" or an index name) -> units
Units = dict[tuple[str, str], float]


def consumed_units(text: str) -> Units:
    """Every consumed-capacity sample in a scrape, summed over tables, by kind and index."""
    units: Units = defaultdict(float)
    for family in text_string_to_metric_families(text):
        kind = _KINDS.get(family.name)
        if kind is None:
            continue
        for sample in family.samples:
            if sample.name == f"{family.name}_total":
                units[(kind, sample.labels.get("index", "table"))] += float(sample.value)
    return dict(units)


def calls_by_operation(text: str) -> dict[str, float]:
    """Logical DynamoDB calls in a scrape, by operation (all outcomes)."""
    calls: dict[str, float] = defaultdict(float)
    for family in text_string_to_metric_families(text):
        if family.name != CALLS:
            continue
        for sample in family.samples:
            if sample.name == f"{CALLS}_total":
                calls[sample.labels.get("operation", "other")] += float(sample.value)
    return dict(calls)


def units_delta(before: Units, after: Units) -> Units:
    out: Units = {}
    # A series that vanished went back to zero: the service restarted between the scrapes.
    for key in after.keys() | before.keys():
        diff = after.get(key, 0.0) - before.get(key, 0.0)
        if diff < 0:
            raise ValueError(f"capacity counter went backwards for {key}: a restart?")
        out[key] = diff
    return out


def per_thousand(units: float, requests: float) -> float:
    return 1000.0 * units / requests if requests > 0 else math.nan


@dataclass(frozen=True, slots=True)
class Capacity:
    """Capacity one phase consumed, and the requests it served."""

    reads: float  # GET/HEAD requests the server answered
    writes: float  # POST/PUT/PATCH/DELETE requests
    read_units: float
    write_units: float
    by_index: dict[str, dict[str, float]] = field(default_factory=dict)  # index -> kind -> units
    calls: dict[str, float] = field(default_factory=dict)  # DynamoDB operation -> calls

    @classmethod
    def from_scrapes(cls, before: str, after: str, requests: dict[str, float]) -> Capacity:
        """`requests`: the server's read and write counts over the same window
        (`loadtests.gate.ServerStats.requests`)."""
        diff = units_delta(consumed_units(before), consumed_units(after))
        by_index: dict[str, dict[str, float]] = defaultdict(dict)
        for (kind, index), value in sorted(diff.items()):
            by_index[index][kind] = value
        prior = calls_by_operation(before)
        calls = {
            op: n - prior.get(op, 0.0)
            for op, n in sorted(calls_by_operation(after).items())
            if n - prior.get(op, 0.0) > 0
        }
        return cls(
            reads=requests.get("read", 0.0),
            writes=requests.get("write", 0.0),
            read_units=sum(v for (kind, _), v in diff.items() if kind == "read"),
            write_units=sum(v for (kind, _), v in diff.items() if kind == "write"),
            by_index=dict(by_index),
            calls=calls,
        )

    @property
    def requests(self) -> float:
        return self.reads + self.writes

    @property
    def rcu_per_1000_requests(self) -> float:
        return per_thousand(self.read_units, self.requests)

    @property
    def wcu_per_1000_requests(self) -> float:
        return per_thousand(self.write_units, self.requests)

    @property
    def rcu_per_1000_reads(self) -> float:
        return per_thousand(self.read_units, self.reads)

    @property
    def wcu_per_1000_writes(self) -> float:
        return per_thousand(self.write_units, self.writes)

    def calls_per_1000_requests(self) -> dict[str, float]:
        return {op: per_thousand(n, self.requests) for op, n in self.calls.items()}

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "reads": self.reads,
            "writes": self.writes,
            "read_units": self.read_units,
            "write_units": self.write_units,
            "rcu_per_1000_requests": self.rcu_per_1000_requests,
            "wcu_per_1000_requests": self.wcu_per_1000_requests,
            "rcu_per_1000_reads": self.rcu_per_1000_reads,
            "wcu_per_1000_writes": self.wcu_per_1000_writes,
            "by_index": self.by_index,
            "calls": self.calls,
            "calls_per_1000_requests": self.calls_per_1000_requests(),
            "note": MOTO_NOTE,
        }


def _num(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.1f}"


def render(phases: dict[str, dict[str, Any]]) -> str:
    """A table of phases (name -> `Capacity.as_dict()`, with `hit_ratio` if known)."""
    lines = [
        f"{'capacity':10} {'requests':>8} {'RCU':>8} {'WCU':>7} {'RCU/1k req':>10} "
        f"{'WCU/1k req':>10} {'RCU/1k reads':>12} {'WCU/1k writes':>13} {'hit ratio':>9}"
    ]
    for name, cap in phases.items():
        hit = cap.get("hit_ratio", math.nan)
        lines.append(
            f"{name:10} {cap['requests']:>8.0f} {cap['read_units']:>8.1f} "
            f"{cap['write_units']:>7.1f} {_num(cap['rcu_per_1000_requests']):>10} "
            f"{_num(cap['wcu_per_1000_requests']):>10} {_num(cap['rcu_per_1000_reads']):>12} "
            f"{_num(cap['wcu_per_1000_writes']):>13} "
            f"{'-' if math.isnan(hit) else f'{hit:.1%}':>9}"
        )
    for name, cap in phases.items():
        per = cap.get("calls_per_1000_requests", {})
        shown = ", ".join(f"{op} {n:.1f}" for op, n in sorted(per.items(), key=lambda kv: -kv[1]))
        lines.append(f"{name:10} DynamoDB calls per 1,000 requests: {shown or 'none'}")
    lines.append(f"({MOTO_NOTE})")
    return "\n".join(lines)
