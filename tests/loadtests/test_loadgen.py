"""The benchmark's load generator, against the real ceiling process (wrk where the machine has
it, else the aiohttp client): paced runs keep to the rate they offer."""

from __future__ import annotations

import pytest

from loadtests.benchmark import bare
from loadtests.loadgen import measure, parse_wrk

WRK_OUTPUT = """Running 2s test @ http://127.0.0.1:8090/x
  2 threads and 64 connections
  Latency Distribution
     50%  612.00us
     75%    1.02ms
     90%    1.50ms
     99%    3.21ms
  9786 requests in 2.00s, 20.11MB read
Requests/sec:   4892.99
Transfer/sec:     10.05MB
"""


def test_wrk_figures_are_read_in_milliseconds() -> None:
    sample = parse_wrk(WRK_OUTPUT)
    assert (sample.rps, sample.p50_ms, sample.p99_ms) == (4892.99, 0.612, 3.21)


def test_a_run_with_errors_is_refused() -> None:
    with pytest.raises(RuntimeError, match="wrk saw errors"):
        parse_wrk(WRK_OUTPUT + "  Non-2xx or 3xx responses: 12\n")


def test_only_loopback_is_loaded() -> None:
    with pytest.raises(ValueError, match="loopback only"):
        measure("http://example.com/", 1)


@pytest.mark.slow
@pytest.mark.subprocess  # the bare ceiling server runs as a child
def test_a_paced_run_offers_its_rate_and_no_more() -> None:
    with bare(512) as base:
        closed = measure(base + "/x", 2)
        paced = measure(base + "/x", 2, rate=200)
    # Closed-loop, 64 connections reach thousands a second here; paced, each connection waits
    # 64 / 200 s between requests, so the whole can only fall short of 200/s, never pass it.
    assert 0 < paced.rps <= 200 * 1.1
    assert closed.rps > 5 * paced.rps
