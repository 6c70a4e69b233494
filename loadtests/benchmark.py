"""`make benchmark`: how fast the read path is, as ratios to a bare aiohttp ceiling in one run.

    python -m loadtests.benchmark [--duration 10] [--repeats 3] [--listings 10000]

Every figure comes from the same load generator (wrk, 64 connections; an aiohttp client if wrk
is missing) against loopback, repeated and quoted as medians because the machine is shared.
All servers run at once and the repetitions are interleaved: each repetition measures, per
endpoint, the ceiling and then every configuration back to back, and a ratio is the median of
the ratios within each repetition. This machine's speed drifts by tens of percent over
minutes; a ratio of two measurements seconds apart cancels most of the drift, where a ratio of
medians taken minutes apart does not.

- ceiling: `loadtests.bare` (aiohttp + uvloop, a constant body of the same size);
- memory:  the service, answers from the in-process layer;
- redis:   the service with HUSTLEHUB_CACHE_MEMORY_MAX_BYTES=0 (every hit from Redis);
- 2 workers: `serve --workers 2`, in-process hits.
Each on a category page (the first page, 50 listings) and a listing. Also the service's resident
memory once every listing of the data set has been read (so is cached) once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from loadtests import stack
from loadtests.report import cache_counts
from loadtests.warm import warm
from service.devserver import free_port

RESULTS = Path("var/benchmark.json")
CONNECTIONS = 64
PAGE = "/v1/categories/syn-category-0000/listings"
LISTING = "/v1/listings/syn-listing-000001"

# The targets, as ratios measured in the same run (the numbers).
MEMORY_VS_CEILING = 0.85
REDIS_VS_CEILING = 0.25
TWO_WORKERS_VS_ONE = 1.25
CACHED_P99_MS = 5.0


@dataclass(frozen=True, slots=True)
class Sample:
    rps: float
    p50_ms: float
    p99_ms: float


# -- load generators -------------------------------------------------------------------------

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _wrk_ms(text: str, percent: str) -> float:
    found = re.search(rf"^\s*{percent}%\s+([\d.]+)(us|ms|s)\s*$", text, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"no {percent}% line in wrk's output:\n{text}")
    return float(found.group(1)) * _UNITS_MS[found.group(2)]


def parse_wrk(text: str) -> Sample:
    if "Non-2xx or 3xx responses" in text or "Socket errors" in text:
        raise RuntimeError(f"wrk saw errors:\n{text}")
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.MULTILINE)
    if rps is None:
        raise RuntimeError(f"no Requests/sec in wrk's output:\n{text}")
    return Sample(float(rps.group(1)), _wrk_ms(text, "50"), _wrk_ms(text, "99"))


def run_wrk(url: str, duration_s: float) -> Sample:
    argv = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{duration_s:g}s", "--latency", url]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration_s + 60, check=True)
    return parse_wrk(done.stdout)


async def _aiohttp_load(url: str, duration_s: float) -> Sample:
    latencies: list[float] = []
    deadline = time.perf_counter() + duration_s
    connector = aiohttp.TCPConnector(limit=CONNECTIONS)

    async def one(session: aiohttp.ClientSession) -> None:
        while (started := time.perf_counter()) < deadline:
            async with session.get(url) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"{url} answered {response.status}")
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(one(session) for _ in range(CONNECTIONS)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies) or [math.nan]

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return Sample(len(latencies) / elapsed, at(0.50), at(0.99))


def measure(url: str, duration_s: float) -> Sample:
    if shutil.which("wrk"):
        return run_wrk(url, duration_s)
    return asyncio.run(_aiohttp_load(url, duration_s))


def paired_ratio(numerators: list[Sample], denominators: list[Sample]) -> float:
    """The median over repetitions of numerator rps / denominator rps, each pair measured in
    the same repetition (seconds apart)."""
    if len(numerators) != len(denominators) or not numerators:
        raise ValueError("a paired ratio needs one denominator per numerator")
    return statistics.median(n.rps / d.rps for n, d in zip(numerators, denominators, strict=True))


def median(samples: list[Sample]) -> Sample:
    return Sample(
        statistics.median(s.rps for s in samples),
        statistics.median(s.p50_ms for s in samples),
        statistics.median(s.p99_ms for s in samples),
    )


# -- the servers -----------------------------------------------------------------------------


@contextlib.contextmanager
def bare(size: int) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "loadtests.bare", "--port", str(port), "--size", str(size)]
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/up", timeout=1):  # noqa: S310 - loopback
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        yield base
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def fetch(url: str) -> tuple[bytes, str]:
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - loopback
        return bytes(response.read()), str(response.headers.get("X-Cache", ""))


def expect_source(base: str, path: str, source: str) -> int:
    """Read twice (fills, then hits); the second must come from `source`. Returns the size."""
    fetch(base + path)
    body, got = fetch(base + path)
    if got != source:
        raise RuntimeError(f"{base}{path} answered from {got!r}, expected {source!r}")
    return len(body)


def _memory_lookups(base_url: str) -> float:
    text = fetch(base_url + "/metrics")[0].decode()
    counts = cache_counts(text)
    return counts.get(("hustlehub_cache_hits", "memory"), 0.0) + counts.get(
        ("hustlehub_cache_misses", "memory"), 0.0
    )


# -- the run ---------------------------------------------------------------------------------


def _verdict(name: str, value: float, target: float, *, at_most: bool = False) -> dict[str, object]:
    passed = value <= target if at_most else value >= target
    gap = (value - target) / target
    return {"target": name, "value": value, "limit": target, "passed": passed, "gap": gap}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="loadtests.benchmark", description=__doc__.split("\n")[0])
    p.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--listings", type=int, default=10_000)
    p.add_argument("--users", type=int, default=1_000)
    args = p.parse_args(argv)
    generator = "wrk -t2 -c64" if shutil.which("wrk") else "aiohttp client, 64 connections"

    with contextlib.ExitStack() as es:
        stk = es.enter_context(stack.dev_stack(users=args.users, listings=args.listings))
        mem = es.enter_context(stack.service(stk))
        redis = es.enter_context(
            stack.service(stk, overrides={"HUSTLEHUB_CACHE_MEMORY_MAX_BYTES": "0"})
        )
        two = es.enter_context(stack.service(stk, workers=2))
        sizes = {path: expect_source(mem.base_url, path, "memory") for path in (PAGE, LISTING)}
        for path in (PAGE, LISTING):
            expect_source(redis.base_url, path, "redis")
            for _ in range(8):  # each worker fills its own in-process layer
                fetch(two.base_url + path)
        print("reading every listing once ...", flush=True)
        paths = [f"/v1/listings/syn-listing-{i:06d}" for i in range(args.listings)]
        not_ok = warm(mem.base_url, paths)
        rss = mem.rss_bytes()
        ceilings = {path: es.enter_context(bare(size)) for path, size in sizes.items()}
        configs: dict[str, dict[str, str]] = {
            "ceiling": ceilings,
            "memory": dict.fromkeys(sizes, mem.base_url),
            "redis": dict.fromkeys(sizes, redis.base_url),
            "2 workers": dict.fromkeys(sizes, two.base_url),
        }
        samples: dict[tuple[str, str], list[Sample]] = {}
        # Is the in-process layer OFF at max_bytes=0, or consulted (and counted) on every read?
        memory_lookups_when_zero = _memory_lookups(redis.base_url)
        for rep in range(args.repeats):
            for path in (PAGE, LISTING):
                for name, bases in configs.items():
                    print(f"  rep {rep + 1}/{args.repeats}: {name:9} {path}", flush=True)
                    sample = measure(bases[path] + path, args.duration)
                    samples.setdefault((name, path), []).append(sample)

    medians = {key: median(value) for key, value in samples.items()}
    lines = [
        f"benchmark {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, {generator}, "
        f"medians of {args.repeats} x {args.duration:g} s",
        f"{'endpoint':44} {'config':10} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'x ceiling':>9}",
    ]
    verdicts: list[dict[str, object]] = []
    for path in (PAGE, LISTING):
        ceilings_of_path = samples[("ceiling", path)]
        for name in configs:
            m = medians[(name, path)]
            ratio = paired_ratio(samples[(name, path)], ceilings_of_path)
            lines.append(
                f"{path + f' ({sizes[path]} B)':44} {name:10} {m.rps:8.0f} {m.p50_ms:7.2f} "
                f"{m.p99_ms:7.2f} {ratio:9.2f}"
            )
        kind = "page" if path == PAGE else "listing"
        verdicts += [
            _verdict(f"{kind}: in-process hit vs ceiling",
                     paired_ratio(samples[("memory", path)], ceilings_of_path), MEMORY_VS_CEILING),
            _verdict(f"{kind}: redis hit vs ceiling",
                     paired_ratio(samples[("redis", path)], ceilings_of_path), REDIS_VS_CEILING),
            _verdict(f"{kind}: 2 workers vs 1",
                     paired_ratio(samples[("2 workers", path)], samples[("memory", path)]),
                     TWO_WORKERS_VS_ONE),
            _verdict(f"{kind}: cached p99 ms", medians[("memory", path)].p99_ms, CACHED_P99_MS,
                     at_most=True),
        ]  # fmt: skip
    lines.append(
        "x ceiling: the median over repetitions of req/s over the ceiling's req/s measured in "
        "the same repetition"
    )
    lines.append(
        "HUSTLEHUB_CACHE_MEMORY_MAX_BYTES=0: the in-process layer "
        + (
            f"is still consulted ({memory_lookups_when_zero:.0f} lookups counted as misses "
            "during the warm-up): not OFF"
            if memory_lookups_when_zero
            else "is OFF (no lookups counted)"
        )
    )
    lines.append(
        f"resident memory with {args.listings} listings cached: {rss / 2**20:.0f} MiB "
        f"({not_ok} reads not 200)"
    )
    for v in verdicts:
        gap = float(v["gap"])  # type: ignore[arg-type]
        mark = "pass" if v["passed"] else f"MISS by {abs(gap):.0%}"
        lines.append(f"  {v['target']:36} {float(v['value']):6.2f} (target {v['limit']}) {mark}")  # type: ignore[arg-type]
    print("\n".join(lines))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "generator": generator,
                "sizes": sizes,
                "rss_bytes": rss,
                "memory_lookups_when_max_bytes_0": memory_lookups_when_zero,
                "medians": {f"{n} {p}": asdict(m) for (n, p), m in medians.items()},
                "samples": {f"{n} {p}": [asdict(s) for s in v] for (n, p), v in samples.items()},
                "verdicts": verdicts,
            },
            indent=2,
        )
    )
    return 0 if all(v["passed"] for v in verdicts) and not math.isnan(rss) else 1


if __name__ == "__main__":
    sys.exit(main())
