"""Prometheus's own tools for the tests: promtool, and a real server to scrape the service.

`find_or_install()` finds both binaries on PATH, else installs Debian's `prometheus` package
(`tests/support/debian.py`). `run_prometheus()` starts a server on a free loopback port that
scrapes one target and evaluates the given rule files; `serve_prometheus()` one that runs a
config file of the caller's. `wait_ready()` and `stop()` serve Alertmanager's runner too.
Every wait here is bounded.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from tests.support.debian import found_or_installed

APT_PACKAGE = "prometheus"


@dataclass(frozen=True, slots=True)
class Tools:
    promtool: Path
    prometheus: Path


def _on_path() -> Tools | None:
    promtool, prometheus = shutil.which("promtool"), shutil.which("prometheus")
    if promtool is None or prometheus is None:
        return None
    return Tools(promtool=Path(promtool), prometheus=Path(prometheus))


def find_or_install() -> Tools:
    """promtool and prometheus from PATH, installing Debian's package if either is missing."""
    return found_or_installed(
        APT_PACKAGE, _on_path, what="promtool and prometheus are still not both on PATH"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrometheusServer:
    def __init__(self, url: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.url = url
        self.process = process
        self.log = log

    def api(self, path: str) -> Any:
        """The `data` of an HTTP API answer (`path` such as "/api/v1/alerts")."""
        with urllib.request.urlopen(f"{self.url}{path}", timeout=5) as response:
            body = json.load(response)
        if body.get("status") != "success":
            raise RuntimeError(f"GET {path} failed: {body}")
        return body["data"]

    def query(self, promql: str) -> list[dict[str, Any]]:
        """The instant vector `promql` evaluates to now (`data.result` of /api/v1/query)."""
        data = self.api(f"/api/v1/query?{urllib.parse.urlencode({'query': promql})}")
        return cast(list[dict[str, Any]], data["result"])

    def wait_for(
        self,
        promql: str,
        done: Callable[[list[dict[str, Any]]], bool],
        *,
        timeout_s: float = 30.0,
    ) -> list[dict[str, Any]]:
        """Poll `promql` until `done(result)`; raise TimeoutError with the last result."""
        deadline = time.monotonic() + timeout_s
        while True:
            result = self.query(promql)
            if done(result):
                return result
            if time.monotonic() > deadline:
                raise TimeoutError(f"{promql!r} not done after {timeout_s} s; last: {result}")
            time.sleep(0.25)

    def log_tail(self) -> str:
        return log_tail(self.log)


def log_tail(log: Path) -> str:
    return log.read_text(encoding="utf-8", errors="replace")[-4000:]


def wait_ready(
    name: str, url: str, process: subprocess.Popen[bytes], log: Path, *, timeout_s: float
) -> None:
    """Poll `url`/-/ready (Prometheus and Alertmanager both serve it) until it answers 200."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited early:\n{log_tail(log)}")
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass  # not listening yet
        time.sleep(0.1)
    raise TimeoutError(f"{name} not ready after {timeout_s} s:\n{log_tail(log)}")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@contextmanager
def serve_prometheus(
    tools: Tools,
    config_file: Path,
    workdir: Path,
    *,
    port: int,
    options: Sequence[str] = (),
    startup_timeout_s: float = 30.0,
) -> Iterator[PrometheusServer]:
    """A Prometheus on 127.0.0.1:`port` running `config_file` as it is, its data in
    `workdir`, with extra command-line `options`. The caller picks the port: a config may
    name the server's own address."""
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "prometheus.log"
    argv = [
        str(tools.prometheus),
        f"--config.file={config_file}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        *options,
    ]
    with log.open("wb") as log_file:
        process = subprocess.Popen(argv, stdout=log_file, stderr=subprocess.STDOUT)
    server = PrometheusServer(f"http://127.0.0.1:{port}", process, log)
    try:
        wait_ready("prometheus", server.url, process, log, timeout_s=startup_timeout_s)
        yield server
    finally:
        stop(process)


@contextmanager
def run_prometheus(
    tools: Tools,
    workdir: Path,
    *,
    target: str,
    rule_files: Sequence[Path] = (),
    metrics_path: str = "/metrics",
    interval: str = "1s",
    startup_timeout_s: float = 30.0,
) -> Iterator[PrometheusServer]:
    """A Prometheus on 127.0.0.1 scraping `target` ("host:port") every `interval`."""
    config = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(path.resolve()) for path in rule_files],
        "scrape_configs": [
            {
                "job_name": "hustlehub",
                "metrics_path": metrics_path,
                "static_configs": [{"targets": [target]}],
            }
        ],
    }
    workdir.mkdir(parents=True, exist_ok=True)
    config_file = workdir / "prometheus.yml"
    # JSON is YAML: no YAML writer needed.
    config_file.write_text(json.dumps(config, indent=2), encoding="utf-8")
    with serve_prometheus(
        tools, config_file, workdir, port=free_port(), startup_timeout_s=startup_timeout_s
    ) as server:
        yield server


@asynccontextmanager
async def run_prometheus_async(
    tools: Tools, workdir: Path, *, target: str, rule_files: Sequence[Path] = ()
) -> AsyncIterator[PrometheusServer]:
    """`run_prometheus` for a test whose event loop must keep running while Prometheus starts
    and stops (it serves the token mint, a fault proxy, ...): the blocking parts run in a
    thread. Query the server through `asyncio.to_thread` too."""
    manager = run_prometheus(tools, workdir, target=target, rule_files=rule_files)
    server = await asyncio.to_thread(manager.__enter__)
    try:
        yield server
    finally:
        await asyncio.to_thread(manager.__exit__, None, None, None)
