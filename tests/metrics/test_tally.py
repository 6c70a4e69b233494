"""Tallies: counted in plain numbers, flushed into prometheus_client, equal to observing there
directly."""

from __future__ import annotations

import asyncio
import math
import random

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from metrics.http import LATENCY_BUCKETS
from metrics.tally import Tallies, run_flusher


def _exposition(registry: CollectorRegistry) -> tuple[list[str], float]:
    """Every line but the sum, and the sum: summed in another order, it may differ in the
    last digits. _created lines carry each twin's creation time: left out."""
    lines, total = [], math.nan
    for line in generate_latest(registry).decode().splitlines():
        if line.startswith("h_sum"):
            total = float(line.rsplit(" ", 1)[1])
        elif "_created" not in line:
            lines.append(line)
    return lines, total


def test_a_flushed_histogram_exposes_what_direct_observations_would() -> None:
    direct_registry, tallied_registry = CollectorRegistry(), CollectorRegistry()
    tallies = Tallies(tallied_registry)
    direct = Histogram("h", "twin", ["route"], buckets=LATENCY_BUCKETS, registry=direct_registry)
    tallied = Histogram("h", "twin", ["route"], buckets=LATENCY_BUCKETS, registry=tallied_registry)
    tally = tallies.histogram(tallied.labels("/x"))

    rng = random.Random(20261125)
    # Every edge exactly (a value on an edge belongs to that bucket), just past each edge,
    # past the last edge (+Inf), zero, and a spread of ordinary values.
    values = [*LATENCY_BUCKETS, *(edge * 1.000_001 for edge in LATENCY_BUCKETS), 30.0, 0.0]
    values += [rng.expovariate(200) for _ in range(5_000)]
    for round_ in range(3):  # several flushes accumulate, none is counted twice
        for value in values[round_::3]:
            direct.labels("/x").observe(value)
            tally.observe(value)
        tallies.flush()
        tallied_lines, tallied_sum = _exposition(tallied_registry)
        direct_lines, direct_sum = _exposition(direct_registry)
        assert tallied_lines == direct_lines
        assert math.isclose(tallied_sum, direct_sum, rel_tol=1e-12)


def test_collecting_the_registry_flushes_first() -> None:
    registry = CollectorRegistry()
    tallies = Tallies(registry)  # registered before the metrics, as Metrics does
    counter = tallies.counter(Counter("c", "counted", registry=registry))
    gauge = tallies.gauge(Gauge("g", "level", registry=registry))

    counter.count += 7
    gauge.value += 3
    assert registry.get_sample_value("c_total") == 7
    assert registry.get_sample_value("g") == 3

    counter.count += 1
    gauge.value -= 3
    assert registry.get_sample_value("c_total") == 8
    assert registry.get_sample_value("g") == 0


async def test_the_flusher_flushes_on_its_interval_and_as_it_stops() -> None:
    # The metric lives on a registry the tallies are not registered on, so reading it does
    # not flush: only the flusher can have moved the counts.
    tallies = Tallies(CollectorRegistry())
    metrics_registry = CollectorRegistry()
    counter = tallies.counter(Counter("c", "counted", registry=metrics_registry))

    flusher = asyncio.create_task(run_flusher(tallies, interval_s=0.01))
    counter.count += 5
    for _ in range(200):  # 2 s at most
        if metrics_registry.get_sample_value("c_total") == 5:
            break
        await asyncio.sleep(0.01)
    assert metrics_registry.get_sample_value("c_total") == 5

    counter.count += 2
    flusher.cancel()
    await asyncio.gather(flusher, return_exceptions=True)
    assert metrics_registry.get_sample_value("c_total") == 7
