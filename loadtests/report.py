"""The short report of a load-test run: figures per request kind, the server's view, the cache."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

CACHE_COUNTERS = ("hustlehub_cache_hits", "hustlehub_cache_misses")


def cache_counts(text: str) -> dict[tuple[str, str], float]:
    counts: dict[tuple[str, str], float] = defaultdict(float)
    for family in text_string_to_metric_families(text):
        if family.name not in CACHE_COUNTERS:
            continue
        for sample in family.samples:
            if sample.name.endswith("_total"):
                counts[(family.name, sample.labels.get("layer", ""))] += sample.value
    return dict(counts)


def cache_summary(before: str, after: str) -> dict[str, float]:
    """Hits and misses per layer during the run, and the share of lookups some layer answered.

    Every lookup asks the in-process layer first, so its hits plus misses count the lookups
    (when the layer exists); without it, Redis's do.
    """
    start, end = cache_counts(before), cache_counts(after)
    d = {key: end.get(key, 0.0) - start.get(key, 0.0) for key in end}
    mem_hits = d.get(("hustlehub_cache_hits", "memory"), 0.0)
    mem_misses = d.get(("hustlehub_cache_misses", "memory"), 0.0)
    redis_hits = d.get(("hustlehub_cache_hits", "redis"), 0.0)
    redis_misses = d.get(("hustlehub_cache_misses", "redis"), 0.0)
    lookups = mem_hits + mem_misses or redis_hits + redis_misses
    return {
        "memory_hits": mem_hits,
        "memory_misses": mem_misses,
        "redis_hits": redis_hits,
        "redis_misses": redis_misses,
        "hit_ratio": (mem_hits + redis_hits) / lookups if lookups else math.nan,
    }


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.0f}"


def render(figures: dict[str, Any]) -> str:
    """The gate report (as the locustfile writes it) as a few lines of text."""
    lines = [f"{'request':58} {'reqs':>7} {'fails':>5} {'p50':>5} {'p95':>5} {'p99':>5} (ms)"]
    for name, kind in sorted(figures["by_name"].items()):
        lines.append(
            f"{name[:58]:58} {kind['requests']:>7} {kind['failures']:>5} "
            f"{_ms(kind['p50_ms']):>5} {_ms(kind['p95_ms']):>5} {_ms(kind['p99_ms']):>5}"
        )
    for label, kind in sorted(figures["client"].items()):
        lines.append(
            f"{'ALL ' + label + 's':58} {kind['requests']:>7} {kind['failures']:>5} "
            f"{_ms(kind['p50_ms']):>5} {_ms(kind['p95_ms']):>5} {_ms(kind['p99_ms']):>5}"
        )
    total = sum(kind["requests"] for kind in figures["client"].values())
    seconds = figures.get("seconds") or math.nan
    lines.append(f"rate: {total / seconds:.0f} requests/s over {seconds:.0f} s")
    server = figures["server"]
    p99 = server["p99_seconds"]
    parts = [
        f"{kind} {server['requests'].get(kind, 0):.0f} reqs "
        f"p99 {p99.get(kind, math.nan) * 1000:.1f} ms"
        for kind in ("read", "write")
    ]
    lines.append(f"server: {', '.join(parts)}, 5xx {server['failures']:.0f}")
    if "own" in figures:
        own = figures["own"]
        parts = [
            f"{kind} p50 {own['p50_seconds'][kind] * 1000:.2f} / p99 "
            f"{own['p99_seconds'][kind] * 1000:.2f} ms ({own['requests'][kind]:.0f})"
            for kind in ("read", "cached read", "write")
        ]
        lines.append(f"service's own time (less DynamoDB and Redis): {', '.join(parts)}")
    cache = figures["cache"]
    ratio = "n/a" if math.isnan(cache["hit_ratio"]) else f"{cache['hit_ratio']:.2%}"
    lines.append(
        f"cache: hit ratio {ratio} (memory {cache['memory_hits']:.0f} hits / "
        f"{cache['memory_misses']:.0f} misses, redis {cache['redis_hits']:.0f} hits / "
        f"{cache['redis_misses']:.0f} misses)"
    )
    if "capacity" in figures:
        cap = figures["capacity"]
        lines.append(
            f"dynamodb: {cap['read_units']:.0f} RCU, {cap['write_units']:.0f} WCU; per 1,000 "
            f"requests {_units(cap['rcu_per_1000_requests'])} RCU, "
            f"{_units(cap['wcu_per_1000_requests'])} WCU (on moto: fixed units per call, none for "
            "UpdateItem or TransactWriteItems)"
        )
    return "\n".join(lines)


def _units(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.1f}"
