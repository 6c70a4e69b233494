"""The one owner of every metric, and the multiprocess plumbing around it.

Single process: `Metrics(registry)` puts every metric on `registry`, and a scrape renders
that registry.

Several worker processes (prometheus_client's multiprocess mode, done by the book):

1. Before anything imports prometheus_client, the parent sets PROMETHEUS_MULTIPROC_DIR.
   prometheus_client reads that variable itself, once, when it is first imported, and from
   then on every metric in the process writes its values to mmap files in that directory.
   Set it later and metrics silently stay in process memory: `require_multiprocess_mode()`
   turns that mistake into an error at start-up.
2. The parent calls `prepare_multiprocess_dir(path)` before forking workers, so no file of a
   previous run is summed into this one.
3. Each worker builds its `Metrics` as usual (the registry passed in is then only a holder).
4. Each scrape builds a fresh registry with `scrape_registry(path, ...)`: a
   MultiProcessCollector that reads every worker's files and merges them.
5. When a worker exits, the parent calls `mark_worker_dead(pid, path)` so that its "live"
   gauges (in-flight requests, breaker state) stop counting.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, values
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

from metrics.auth import AuthMetrics
from metrics.cache import CacheMetrics
from metrics.dynamodb import DynamoMetrics
from metrics.http import HttpMetrics
from metrics.migration import MigrationMetrics
from metrics.streams import StreamMetrics
from metrics.tally import Tallies


class Metrics:
    """Every Hustle Hub metric, on the registry given (never the global REGISTRY)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        # Registered first: collecting the registry flushes the hot-path tallies before the
        # metrics they feed are read.
        self.tallies = Tallies(registry)
        self.http = HttpMetrics(registry, self.tallies)
        self.dynamodb = DynamoMetrics(registry)
        self.cache = CacheMetrics(registry, self.tallies)
        self.auth = AuthMetrics(registry)
        self.streams = StreamMetrics(registry)
        self.migration = MigrationMetrics(registry)


def prepare_multiprocess_dir(path: str | os.PathLike[str]) -> Path:
    """Create the directory, or empty it of a previous run's metric files.

    Call once in the parent, before the workers fork. Only the `*.db` files prometheus_client
    writes are removed: the path comes from configuration, and a mistyped one must not cost
    anyone a directory.
    """
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    return directory


def require_multiprocess_mode() -> None:
    """Raise unless prometheus_client writes values to mmap files in this process."""
    if not getattr(values.ValueClass, "_multiprocess", False):
        raise RuntimeError(
            "prometheus_client is not in multiprocess mode: PROMETHEUS_MULTIPROC_DIR must be "
            "set in the environment before prometheus_client is first imported"
        )


def scrape_registry(
    multiproc_dir: str | os.PathLike[str] | None, registry: CollectorRegistry
) -> CollectorRegistry:
    """The registry one scrape should render.

    Single process (`multiproc_dir` None): `registry` itself. Multiprocess: a new registry
    per scrape holding only a MultiProcessCollector, as prometheus_client's documentation
    prescribes; the workers' own registries would show one process's share.
    """
    if multiproc_dir is None:
        return registry
    merged = CollectorRegistry()
    # prometheus_client ships py.typed but leaves its multiprocess module unannotated.
    MultiProcessCollector(merged, path=os.fspath(multiproc_dir))  # type: ignore[no-untyped-call]
    return merged


def mark_worker_dead(pid: int, path: str | os.PathLike[str]) -> None:
    """Drop a dead worker's live gauges (its counters and histograms keep counting)."""
    mark_process_dead(pid, os.fspath(path))  # type: ignore[no-untyped-call]


# The types whose families prometheus_client gives a `<name>_created` series.
_WITH_CREATED = frozenset({"counter", "histogram", "summary"})


class _WithoutCreated(Collector):
    """A collector showing `registry` less its `*_created` series: one more series per counter
    and histogram child (a timestamp dashboards never read) would double what Prometheus
    stores of the counters."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterable[Metric]:
        for family in self._registry.collect():
            if family.type in _WITH_CREATED:
                family.samples = [s for s in family.samples if not s.name.endswith("_created")]
            yield family


_OPENMETRICS = "application/openmetrics-text"


def render(
    registry: CollectorRegistry, *, created: bool = False, accept: str = ""
) -> tuple[bytes, str]:
    """The scrape body and its Content-Type header value; `created`: with the `*_created`
    series. OpenMetrics when the scraper's `accept` asks for it, the only format that carries
    exemplars (Prometheus asks for it first); else the text format, as before exemplars."""
    if not created:
        filtered = CollectorRegistry(auto_describe=False)
        filtered.register(_WithoutCreated(registry))
        registry = filtered
    if _OPENMETRICS in accept:
        # prometheus_client's own negotiation: the version and escaping the scraper names.
        encode, content_type = choose_encoder(accept)
        if content_type.startswith(_OPENMETRICS):
            return encode(registry), content_type
    return generate_latest(registry), CONTENT_TYPE_LATEST
