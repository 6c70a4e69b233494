"""Hot-path counts kept in plain numbers and handed to prometheus_client in batches.

Every cached read increments a request counter, a latency histogram and a cache-hit counter.
prometheus_client takes a lock and makes several calls per value (a histogram observation is a
bucket scan plus two locked increments): measured under wrk, about 5 µs of a 60 µs request,
more than the whole cache lookup. The event loop is the only writer of these numbers, so a
plain integer needs no lock; `Tallies.flush()` moves what has accumulated into the real
metrics:

- before every scrape of this process: `Tallies` registers itself first on the registry, so
  any collection (an exposition, `get_sample_value` in a test) flushes, and a single-process
  scrape is exact;
- every `flush_interval_s` (`run_flusher`), so that in multiprocess mode a scrape served by
  another worker sees this worker's counts at most that late;
- at shutdown (`run_flusher` flushes as it stops).
A worker killed with SIGKILL loses at most one interval of counts; its earlier counts stay in
its multiprocess files like any other.
"""

from __future__ import annotations

import asyncio
import time
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.registry import Collector
from prometheus_client.samples import Exemplar

FLUSH_INTERVAL_S = 1.0


class CounterTally:
    """Increments for one Counter child: `count += 1` on the hot path."""

    __slots__ = ("_child", "count")

    def __init__(self, child: Counter) -> None:
        self._child = child
        self.count = 0

    def flush(self) -> None:
        if self.count:
            count, self.count = self.count, 0
            self._child.inc(count)


class GaugeTally:
    """A level (e.g. requests in flight): `value += 1` / `value -= 1`; flush sets the gauge."""

    __slots__ = ("_child", "_flushed", "value")

    def __init__(self, child: Gauge) -> None:
        self._child = child
        self.value = 0
        self._flushed = 0

    def flush(self) -> None:
        if self.value != self._flushed:
            self._flushed = self.value
            self._child.set(self.value)


class HistogramTally:
    """Observations for one Histogram child: a bucket index and a sum, no lock."""

    __slots__ = ("_bounds", "_child", "_counts", "_pending", "_sum")

    def __init__(self, child: Histogram) -> None:
        self._child = child
        # The child's own upper bounds, +Inf last: observe() picks the same bucket as
        # Histogram.observe (the first bound >= the value).
        self._bounds: tuple[float, ...] = tuple(child._upper_bounds)
        self._counts = [0] * len(self._bounds)
        self._sum = 0.0
        self._pending = False

    def observe(self, value: float) -> None:
        self._counts[bisect_left(self._bounds, value)] += 1
        self._sum += value
        self._pending = True

    def exemplify(self, value: float, labels: Mapping[str, str]) -> None:
        """Make `labels` the exemplar of the bucket an observation of `value` (already made
        with observe) counts in. Set at once, not at the flush: an exemplar is one value per
        bucket, the latest, not a sum, and it is only ever set for a sampled trace."""
        exemplar = Exemplar(dict(labels), value, time.time())
        self._child._buckets[bisect_left(self._bounds, value)].set_exemplar(exemplar)

    def flush(self) -> None:
        if not self._pending:
            return
        # prometheus_client has no public "add n observations": these are the per-bucket
        # values and the sum its own observe() increments (the same objects in multiprocess
        # mode, where they are mmap-backed). tests/metrics/test_tally.py holds the exposition
        # equal to that of observe() on a twin histogram, so a change there fails a test.
        buckets: list[Any] = self._child._buckets
        for i, count in enumerate(self._counts):
            if count:
                buckets[i].inc(count)
                self._counts[i] = 0
        self._child._sum.inc(self._sum)
        self._sum = 0.0
        self._pending = False


class Tallies(Collector):
    """Every tally of one process. Registered on the registry before the metrics it feeds,
    it contributes no samples: collecting it flushes the tallies, so the collectors after it
    expose current values."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._tallies: list[CounterTally | GaugeTally | HistogramTally] = []
        registry.register(self)

    def counter(self, child: Counter) -> CounterTally:
        tally = CounterTally(child)
        self._tallies.append(tally)
        return tally

    def gauge(self, child: Gauge) -> GaugeTally:
        tally = GaugeTally(child)
        self._tallies.append(tally)
        return tally

    def histogram(self, child: Histogram) -> HistogramTally:
        tally = HistogramTally(child)
        self._tallies.append(tally)
        return tally

    def flush(self) -> None:
        for tally in self._tallies:
            tally.flush()

    def describe(self) -> Iterable[Any]:
        return ()

    def collect(self) -> Iterable[Any]:
        self.flush()
        return ()


async def run_flusher(tallies: Tallies, interval_s: float = FLUSH_INTERVAL_S) -> None:
    """Flush every `interval_s` until cancelled, and once more on the way out."""
    try:
        while True:
            await asyncio.sleep(interval_s)
            tallies.flush()
    finally:
        tallies.flush()
