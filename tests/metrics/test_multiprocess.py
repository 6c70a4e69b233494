"""Multiprocess mode: worker processes write files, one scrape registry merges them.

The workers are real processes (`python -c`), because prometheus_client picks its storage
when it is first imported: this pytest process itself is not in multiprocess mode.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from metrics.registry import (
    Metrics,
    mark_worker_dead,
    prepare_multiprocess_dir,
    render,
    require_multiprocess_mode,
    scrape_registry,
)

ROOT = Path(__file__).resolve().parents[2]

WORKER = """
import os, sys
from prometheus_client import CollectorRegistry
from metrics.registry import Metrics, require_multiprocess_mode

require_multiprocess_mode()
metrics = Metrics(CollectorRegistry())
for _ in range(int(sys.argv[1])):
    metrics.auth.failure("expired")
metrics.dynamodb.call_finished("Query", 0.004, "ok", None)
metrics.cache.breaker_state(sys.argv[2])
metrics.http.in_flight.value += 1
metrics.tallies.flush()
print(os.getpid())
"""


def run_worker(directory: Path, failures: int, breaker: str) -> int:
    result = subprocess.run(
        [sys.executable, "-c", WORKER, str(failures), breaker],
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return int(result.stdout.strip())


def scraped(directory: Path, name: str, **labels: str) -> float | None:
    return scrape_registry(directory, CollectorRegistry()).get_sample_value(name, labels)


@pytest.mark.subprocess  # the workers are `python -c` processes
def test_scrape_sums_counters_and_histograms_across_workers(tmp_path: Path) -> None:
    directory = prepare_multiprocess_dir(tmp_path / "prom")
    run_worker(directory, 3, "open")
    run_worker(directory, 4, "closed")

    assert scraped(directory, "hustlehub_auth_failures_total", reason="expired") == 7
    duration = "hustlehub_dynamodb_operation_duration_seconds"
    assert scraped(directory, f"{duration}_count", operation="Query") == 2
    assert scraped(directory, f"{duration}_bucket", operation="Query", le="0.005") == 2
    assert scraped(directory, "hustlehub_http_requests_in_flight") == 2  # livesum
    assert scraped(directory, "hustlehub_cache_breaker_state", state="open") == 1  # livemax


@pytest.mark.subprocess  # the workers are `python -c` processes
def test_a_dead_workers_live_gauges_stop_counting(tmp_path: Path) -> None:
    directory = prepare_multiprocess_dir(tmp_path / "prom")
    opened = run_worker(directory, 1, "open")
    run_worker(directory, 1, "closed")

    mark_worker_dead(opened, directory)

    assert scraped(directory, "hustlehub_http_requests_in_flight") == 1
    assert scraped(directory, "hustlehub_cache_breaker_state", state="open") == 0
    # Counters keep what the dead worker counted: rate() must not see a reset.
    assert scraped(directory, "hustlehub_auth_failures_total", reason="expired") == 2


@pytest.mark.subprocess  # the workers are `python -c` processes
def test_prepare_wipes_a_previous_runs_files(tmp_path: Path) -> None:
    directory = prepare_multiprocess_dir(tmp_path / "nested" / "prom")
    run_worker(directory, 5, "open")
    keep = directory / "README"
    keep.write_text("not ours")
    assert scraped(directory, "hustlehub_auth_failures_total", reason="expired") == 5

    prepare_multiprocess_dir(directory)

    assert not list(directory.glob("*.db"))
    assert keep.exists()
    assert scraped(directory, "hustlehub_auth_failures_total", reason="expired") is None


@pytest.mark.subprocess  # runs a `python -c` process
def test_env_set_after_import_is_refused(tmp_path: Path) -> None:
    late = (
        "import os, prometheus_client\n"
        f"os.environ['PROMETHEUS_MULTIPROC_DIR'] = {str(tmp_path)!r}\n"
        "from metrics.registry import require_multiprocess_mode\n"
        "require_multiprocess_mode()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", late],
        env={k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "PROMETHEUS_MULTIPROC_DIR must be set" in result.stderr
    with pytest.raises(RuntimeError, match="not in multiprocess mode"):
        require_multiprocess_mode()  # nor is this pytest process


def test_single_process_scrape_is_the_registry_itself() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    metrics.auth.failure("expired")
    assert scrape_registry(None, registry) is registry
    body, content_type = render(registry)
    assert content_type.startswith("text/plain; version=")
    assert b'hustlehub_auth_failures_total{reason="expired"} 1.0' in body
