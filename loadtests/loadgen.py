"""The benchmark's load generators: wrk (Debian's package) where present, else an aiohttp client.

Both hold CONNECTIONS connections open against one URL for a bounded time, and either run
closed-loop (every connection sends its next request as soon as the last one is answered: the
highest rate the server sustains, and the latency that queueing at that rate costs) or paced
(every connection waits between requests, so the whole offers a set rate: the latency a
server shows with headroom left, which is what a user sees on a healthy deployment).
"""

from __future__ import annotations

import asyncio
import math
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from loadtests import fixture as fixtures

CONNECTIONS = 64

# wrk calls delay() before every request of a connection: the milliseconds to wait first.
# Latency is timed from the moment the request is written, so the wait is not in it.
_PACED_LUA = """
local wait_ms = 0
function init(args) wait_ms = tonumber(args[1]) end
function delay() return wait_ms end
"""


@dataclass(frozen=True, slots=True)
class Sample:
    rps: float
    p50_ms: float
    p99_ms: float


def generator_name() -> str:
    return f"wrk -t2 -c{CONNECTIONS}" if shutil.which("wrk") else "aiohttp client"


def measure(
    url: str,
    duration_s: float,
    *,
    rate: float | None = None,
    headers: Mapping[str, str] | None = None,
) -> Sample:
    """`url` under load for `duration_s` seconds: closed-loop, or paced to `rate` requests/s in
    all (each connection waiting CONNECTIONS / rate seconds between its requests). `headers`
    go with every request (e.g. Accept-Encoding: br; bodies are never decompressed)."""
    fixtures.require_loopback(url)
    wait_s = CONNECTIONS / rate if rate else 0.0
    if shutil.which("wrk"):
        return _run_wrk(url, duration_s, wait_s, headers or {})
    return asyncio.run(_aiohttp_load(url, duration_s, wait_s, headers or {}))


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


def _run_wrk(url: str, duration_s: float, wait_s: float, headers: Mapping[str, str]) -> Sample:
    seconds = max(1, round(duration_s))
    argv = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency"]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    with tempfile.TemporaryDirectory() as tmp:
        if wait_s:
            script = Path(tmp) / "paced.lua"
            script.write_text(_PACED_LUA)
            argv += ["-s", str(script), url, "--", f"{wait_s * 1000:.3f}"]
        else:
            argv.append(url)
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=seconds + 60, check=True
        )
    return parse_wrk(done.stdout)


async def _aiohttp_load(
    url: str, duration_s: float, wait_s: float, headers: Mapping[str, str]
) -> Sample:
    latencies: list[float] = []
    deadline = time.perf_counter() + duration_s
    connector = aiohttp.TCPConnector(limit=CONNECTIONS)

    async def one(session: aiohttp.ClientSession) -> None:
        while (started := time.perf_counter()) < deadline:
            # Only the Accept-Encoding asked for, as wrk sends (aiohttp would offer gzip and br).
            async with session.get(
                url, headers=headers, auto_decompress=False, skip_auto_headers=("Accept-Encoding",)
            ) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"{url} answered {response.status}")
            latencies.append(time.perf_counter() - started)
            if wait_s:
                await asyncio.sleep(wait_s)

    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(one(session) for _ in range(CONNECTIONS)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies) or [math.nan]

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return Sample(len(latencies) / elapsed, at(0.50), at(0.99))
