"""`make benchmark`: how fast the read path is, as ratios to a bare aiohttp ceiling in one run.

    python -m loadtests.benchmark [--duration 4] [--repeats 8] [--listings 10000]

Every figure comes from the same load generator (wrk, 64 connections; an aiohttp client if wrk
is missing) against loopback, repeated and quoted as medians because the machine is shared.
All servers run at once and the repetitions are interleaved: each repetition measures, per
endpoint, the ceiling and every configuration back to back (in reverse order every other
time), and a ratio is the median of the ratios within each repetition, quoted with the middle
half of them. This machine's speed drifts by tens of percent over
minutes; a ratio of two measurements seconds apart cancels most of the drift, where a ratio of
medians taken minutes apart does not.

- ceiling: `loadtests.bare` (aiohttp + uvloop, a constant body of the same size);
- fastapi: `loadtests.bare_fastapi` (FastAPI on uvicorn with uvloop and httptools, the same
  body and headers): what a team would pick instead;
- memory:  the service, answers from the in-process layer;
- redis:   the service with HUSTLEHUB_CACHE_MEMORY_MAX_BYTES=0 (every hit from Redis);
- 2 workers: `serve --workers 2`, in-process hits;
- ceiling paced, memory paced: the ceiling and the in-process hits again, each offered half the
  rate the ceiling just sustained (closed-loop P99 at saturation is mostly queueing, which the
  ceiling pays too; paced, it is the latency a server with headroom gives);
- ceiling br, memory br: every request with `Accept-Encoding: br`; the ceiling answers the very
  bytes the service sends then (its Brotli encoding, made when the entry was filled) with the
  same Content-Encoding.
Each on a category page (the first page, 50 listings) and a listing. Also the bytes each answers
in each content coding, and the service's resident memory once every listing of the data set
has been read (so is cached) once. The services run with a CORS origin allowed, as one serving
a web app does (every answer then also says Vary: Origin), and as a stage's web tasks run: no
stream consumer polling inside the process (the stage runs one as a service of its own), JSON
logs, the default access log.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from loadtests import stack
from loadtests.gate import OWN_P99_LIMIT_S, OwnStats, scrape
from loadtests.loadgen import CONNECTIONS, Sample, generator_name, measure
from loadtests.report import cache_counts
from loadtests.warm import synthetic_listing_paths, warm

RESULTS = Path("var/benchmark.json")
PAGE = "/v1/categories/syn-category-0000/listings"
LISTING = "/v1/listings/syn-listing-000001"

# The targets, as ratios measured in the same run (the numbers).
MEMORY_VS_CEILING = 0.90
# The closed-loop P99 of an in-process hit over the ceiling's, in the same repetition.
CACHED_P99_VS_CEILING = 1.15
# Against what a team would pick instead, serving the same constant body: not slower.
MEMORY_VS_FASTAPI = 1.0
FASTAPI_MODULE = "loadtests.bare_fastapi"
# The in-process runs whose own time is read from the service's histogram.
OWN_TIMED = ("memory", "memory paced")
# Resident memory of the in-process service once every listing has been read (so is cached).
MEMORY_MIB = 150
REDIS_VS_CEILING = 0.25
TWO_WORKERS_VS_ONE = 1.25
CACHED_P99_MS = 5.0
# Paced runs offer this share of the rate the ceiling sustained in the same repetition.
PACED_SHARE = 0.5
# Each paced configuration and the server it loads.
PACED = {"ceiling paced": "ceiling", "memory paced": "memory"}
BROTLI_VS_CEILING = 0.85
# What each configuration sends with every request; the others send no Accept-Encoding.
BROTLI = {"Accept-Encoding": "br"}
REQUEST_HEADERS = {"ceiling br": BROTLI, "memory br": BROTLI}
CODINGS = ("identity", "gzip", "br")
SERVICE_ENV = {
    "HUSTLEHUB_CORS_ALLOWED_ORIGINS": "https://app.hustlehub.test",
    # As a production web task runs (service/aws/infra/tasks.py): the stream consumer is a
    # service of its own, not a poller inside every web process, and logs are JSON.
    "HUSTLEHUB_STREAM_INVALIDATION": "false",
    "HUSTLEHUB_LOG_FORMAT": "json",
}


def paired_ratios(numerators: list[Sample], denominators: list[Sample]) -> list[float]:
    """numerator rps / denominator rps of each repetition, the pair measured seconds apart."""
    if len(numerators) != len(denominators) or not numerators:
        raise ValueError("a paired ratio needs one denominator per numerator")
    return [n.rps / d.rps for n, d in zip(numerators, denominators, strict=True)]


def paired_p99_ratios(numerators: list[Sample], denominators: list[Sample]) -> list[float]:
    """numerator P99 / denominator P99 of each repetition (closed loop: both saturated)."""
    if len(numerators) != len(denominators) or not numerators:
        raise ValueError("a paired ratio needs one denominator per numerator")
    return [n.p99_ms / d.p99_ms for n, d in zip(numerators, denominators, strict=True)]


def paired_ratio(numerators: list[Sample], denominators: list[Sample]) -> float:
    """The median over repetitions of the paired ratios."""
    return statistics.median(paired_ratios(numerators, denominators))


def middle_half(values: list[float]) -> tuple[float, float]:
    """The interquartile range: where the middle half of the repetitions fell. A target
    inside it is within this machine's noise of the median."""
    if len(values) < 2:
        return (values[0], values[0]) if values else (math.nan, math.nan)
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q3


def median(samples: list[Sample]) -> Sample:
    return Sample(
        statistics.median(s.rps for s in samples),
        statistics.median(s.p50_ms for s in samples),
        statistics.median(s.p99_ms for s in samples),
    )


# -- the servers -----------------------------------------------------------------------------


@contextlib.contextmanager
def bare(
    size: int, *, body: bytes | None = None, encoding: str = "", module: str = "loadtests.bare"
) -> Iterator[str]:
    """The ceiling on a free port: a constant body of `size` bytes, or exactly `body`; or, with
    `module` loadtests.bare_fastapi, the same from FastAPI on uvicorn."""
    port = stack.free_port()
    argv = [sys.executable, "-m", module, "--port", str(port), "--size", str(size)]
    scratch = tempfile.TemporaryDirectory()
    if body is not None:
        path = Path(scratch.name) / "body"
        path.write_bytes(body)
        argv += ["--body-file", str(path), "--content-encoding", encoding]
    proc = subprocess.Popen(argv)
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
        stack.stop(proc, within_s=10)
        scratch.cleanup()


def fetch(url: str) -> tuple[bytes, str]:
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - loopback
        return bytes(response.read()), str(response.headers.get("X-Cache", ""))


def fetch_encoded(url: str, coding: str) -> tuple[bytes, str]:
    """The body as sent when `coding` is asked for (urllib never decompresses), and the
    Content-Encoding it came in ("identity" when none)."""
    request = urllib.request.Request(url, headers={"Accept-Encoding": coding})  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
        return bytes(response.read()), str(response.headers.get("Content-Encoding", "identity"))


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


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    value: float  # the median over repetitions
    limit: float
    at_most: bool
    middle_half: tuple[float, float]

    @classmethod
    def judge(
        cls, name: str, values: list[float], limit: float, *, at_most: bool = False
    ) -> Target:
        return cls(name, statistics.median(values), limit, at_most, middle_half(values))

    @property
    def passed(self) -> bool:
        return self.value <= self.limit if self.at_most else self.value >= self.limit

    def line(self) -> str:
        gap = abs(self.value - self.limit) / self.limit
        low, high = self.middle_half
        mark = "pass" if self.passed else f"MISS by {gap:.0%}"
        return (
            f"  {self.name:36} {self.value:6.2f} [{low:.2f}-{high:.2f}] (target {self.limit}) "
            f"{mark}"
        )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="loadtests.benchmark", description=__doc__.split("\n")[0])
    # Many short repetitions rather than a few long ones: this machine's speed drifts over
    # seconds to minutes, and a pair measured seconds apart shares more of it.
    p.add_argument("--duration", type=float, default=4.0, help="seconds per measurement")
    p.add_argument("--repeats", type=int, default=8)
    p.add_argument("--listings", type=int, default=10_000)
    p.add_argument("--users", type=int, default=1_000)
    args = p.parse_args(argv)
    generator = generator_name()

    with contextlib.ExitStack() as es:
        stk = es.enter_context(stack.dev_stack(users=args.users, listings=args.listings))
        mem = es.enter_context(stack.service(stk, overrides=SERVICE_ENV))
        redis = es.enter_context(
            stack.service(stk, overrides={**SERVICE_ENV, "HUSTLEHUB_CACHE_MEMORY_MAX_BYTES": "0"})
        )
        two = es.enter_context(stack.service(stk, workers=2, overrides=SERVICE_ENV))
        sizes = {path: expect_source(mem.base_url, path, "memory") for path in (PAGE, LISTING)}
        # What each coding costs on the wire, read from in-process hits.
        encoded = {
            (path, coding): fetch_encoded(mem.base_url + path, coding)
            for path in (PAGE, LISTING)
            for coding in CODINGS
        }
        for path in (PAGE, LISTING):
            expect_source(redis.base_url, path, "redis")
            for _ in range(8):  # each worker fills its own in-process layer
                fetch(two.base_url + path)
        print("reading every listing once ...", flush=True)
        not_ok = warm(mem.base_url, synthetic_listing_paths(args.listings))
        rss = mem.rss_bytes()
        ceilings = {path: es.enter_context(bare(size)) for path, size in sizes.items()}
        fastapis = {
            path: es.enter_context(bare(size, module=FASTAPI_MODULE))
            for path, size in sizes.items()
        }
        brotli_ceilings = {}
        for path, size in sizes.items():
            body, coding = encoded[(path, "br")]
            sent = "" if coding == "identity" else coding  # a small body is sent as it is
            brotli_ceilings[path] = es.enter_context(bare(size, body=body, encoding=sent))
        configs: dict[str, dict[str, str]] = {
            "ceiling": ceilings,
            "fastapi": fastapis,
            "memory": dict.fromkeys(sizes, mem.base_url),
            "redis": dict.fromkeys(sizes, redis.base_url),
            "2 workers": dict.fromkeys(sizes, two.base_url),
            "ceiling br": brotli_ceilings,
            "memory br": dict.fromkeys(sizes, mem.base_url),
        }
        samples: dict[tuple[str, str], list[Sample]] = {}
        # The service's own time (its duration less its waits, metrics.waits) of the cached
        # reads of each in-process run, from its histogram scraped around the run.
        own_p99s: dict[tuple[str, str], list[float]] = {}
        # Is the in-process layer OFF at max_bytes=0, or consulted (and counted) on every read?
        memory_lookups_when_zero = _memory_lookups(redis.base_url)
        for rep in range(args.repeats):
            # Every other repetition runs the configurations in reverse, so a machine that
            # speeds up or slows down within a repetition favours none of them.
            order = list(configs) if rep % 2 == 0 else list(reversed(configs))
            for path in (PAGE, LISTING):
                for name in order:
                    print(f"  rep {rep + 1}/{args.repeats}: {name:10} {path}", flush=True)
                    headers = REQUEST_HEADERS.get(name)
                    before = scrape(mem.base_url) if name in OWN_TIMED else ""
                    sample = measure(configs[name][path] + path, args.duration, headers=headers)
                    samples.setdefault((name, path), []).append(sample)
                    if name in OWN_TIMED:
                        own = OwnStats.from_scrapes(before, scrape(mem.base_url))
                        own_p99s.setdefault((name, path), []).append(
                            own.p99_seconds["cached read"] * 1000
                        )
                # With headroom: both offered the same rate, half what the ceiling just did.
                rate = samples[("ceiling", path)][-1].rps * PACED_SHARE
                for name, server in PACED.items():
                    print(f"  rep {rep + 1}/{args.repeats}: {name} {path}", flush=True)
                    base = configs[server][path]
                    before = scrape(mem.base_url) if name in OWN_TIMED else ""
                    samples.setdefault((name, path), []).append(
                        measure(base + path, args.duration, rate=rate)
                    )
                    if name in OWN_TIMED:
                        own = OwnStats.from_scrapes(before, scrape(mem.base_url))
                        own_p99s.setdefault((name, path), []).append(
                            own.p99_seconds["cached read"] * 1000
                        )

    medians = {key: median(value) for key, value in samples.items()}
    shown = [*configs, *PACED]
    lines = [
        f"benchmark {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, {generator}, "
        f"medians of {args.repeats} x {args.duration:g} s",
        f"{'endpoint':44} {'config':10} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'x ceiling':>9}",
    ]
    verdicts: list[Target] = []
    for path in (PAGE, LISTING):
        ceilings_of_path = samples[("ceiling", path)]
        for name in shown:
            m = medians[(name, path)]
            # The Brotli runs against the ceiling that serves their bytes.
            pair = samples[("ceiling br", path)] if name in REQUEST_HEADERS else ceilings_of_path
            ratio = paired_ratio(samples[(name, path)], pair)
            lines.append(
                f"{path + f' ({sizes[path]} B)':44} {name:10} {m.rps:8.0f} {m.p50_ms:7.2f} "
                f"{m.p99_ms:7.2f} {ratio:9.2f}"
            )
        kind = "page" if path == PAGE else "listing"
        p99s = {name: [s.p99_ms for s in samples[(name, path)]] for name in shown}
        verdicts += [
            Target.judge(f"{kind}: in-process hit vs ceiling",
                     paired_ratios(samples[("memory", path)], ceilings_of_path), MEMORY_VS_CEILING),
            Target.judge(f"{kind}: redis hit vs ceiling",
                     paired_ratios(samples[("redis", path)], ceilings_of_path), REDIS_VS_CEILING),
            Target.judge(f"{kind}: 2 workers vs 1",
                     paired_ratios(samples[("2 workers", path)], samples[("memory", path)]),
                     TWO_WORKERS_VS_ONE),
            Target.judge(f"{kind}: cached p99 ms", p99s["memory"], CACHED_P99_MS, at_most=True),
            Target.judge(f"{kind}: cached p99 ms, paced", p99s["memory paced"], CACHED_P99_MS,
                     at_most=True),
            Target.judge(f"{kind}: in-process hit vs FastAPI on uvicorn",
                     paired_ratios(samples[("memory", path)], samples[("fastapi", path)]),
                     MEMORY_VS_FASTAPI),
            Target.judge(f"{kind}: closed-loop cached p99 vs the ceiling's",
                     paired_p99_ratios(samples[("memory", path)], ceilings_of_path),
                     CACHED_P99_VS_CEILING, at_most=True),
            Target.judge(f"{kind}: own cached-read p99 ms, closed loop",
                     own_p99s[("memory", path)], OWN_P99_LIMIT_S * 1000, at_most=True),
            Target.judge(f"{kind}: in-process Brotli hit vs ceiling",
                     paired_ratios(samples[("memory br", path)], samples[("ceiling br", path)]),
                     BROTLI_VS_CEILING),
        ]  # fmt: skip
    lines.append(
        "x ceiling: the median over repetitions of req/s over the ceiling's req/s measured in "
        "the same repetition ('memory br' over 'ceiling br', which serves the same bytes)"
    )
    for path in (PAGE, LISTING):
        for name in OWN_TIMED:
            values = own_p99s[(name, path)]
            lines.append(
                f"own time, {name} {path}: cached-read P99 median {statistics.median(values):.3f} "
                f"ms, highest {max(values):.3f} ms, at a median "
                f"{medians[(name, path)].rps:.0f} req/s"
            )
    lines.append(
        "own time: each request's duration less what it waited on DynamoDB and Redis "
        "(hustlehub_http_own_duration_seconds), scraped around each run; closed loop, the "
        "rate is the one process's saturation; the histogram's lowest bucket is 0.1 ms, so a "
        "P99 under it says only that 99% took less"
    )
    lines.append("bytes on the wire by Accept-Encoding (what was sent, its Content-Encoding):")
    for path in (PAGE, LISTING):
        cells = [f"{c} {len(encoded[(path, c)][0])} B ({encoded[(path, c)][1]})" for c in CODINGS]
        lines.append(f"  {path}: " + ", ".join(cells))
    lines.append(
        f"paced: the same {CONNECTIONS} connections offered {PACED_SHARE:.0%} of the rate the "
        "ceiling sustained in the same repetition (the ceiling's own P99 at that rate: "
        "'ceiling paced')"
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
    verdicts.append(Target.judge("resident memory, MiB a worker", [rss / 2**20], MEMORY_MIB,
                                 at_most=True))  # fmt: skip
    lines.append("verdicts on medians; in brackets the middle half of the repetitions")
    lines += [v.line() for v in verdicts]
    print("\n".join(lines))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "generator": generator,
                "sizes": sizes,
                "encoded_bytes": {
                    f"{path} {coding}": {"bytes": len(body), "content_encoding": sent}
                    for (path, coding), (body, sent) in encoded.items()
                },
                "rss_bytes": rss,
                "memory_lookups_when_max_bytes_0": memory_lookups_when_zero,
                "medians": {f"{n} {p}": asdict(m) for (n, p), m in medians.items()},
                "samples": {f"{n} {p}": [asdict(s) for s in v] for (n, p), v in samples.items()},
                "own_cached_p99_ms": {f"{n} {p}": v for (n, p), v in own_p99s.items()},
                "verdicts": [{**asdict(v), "passed": v.passed} for v in verdicts],
            },
            indent=2,
        )
    )
    return 0 if all(v.passed for v in verdicts) and not math.isnan(rss) else 1


if __name__ == "__main__":
    sys.exit(main())
