"""The one gate command (`make test`, and so `.ci/run`): lint, types, then the whole suite.

It starts the machine's Redis and PostgreSQL when nothing answers on their ports, because the
suite talks to a real Redis and (the migration's tests) a real PostgreSQL; everything else the
tests need (moto's server, Prometheus, Alertmanager) they start themselves. Debian's
Prometheus, Alertmanager, docker-compose, node and npm, chromium and chromium-driver are
installed here, once, when missing, and the typed client's tools with `npm ci`.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.support import (
    alertmanager_tools,
    browser_tools,
    compose_tools,
    node_tools,
    prometheus_tools,
)
from tests.support.debian import ToolsUnavailable

REDIS_ADDR = ("127.0.0.1", 6379)
POSTGRES_ADDR = ("127.0.0.1", 5432)
POSTGRES_CONFIGS = Path("/etc/postgresql")
POSTGRES_START_S = 30
REDIS_START = [
    "redis-server",
    "--daemonize",
    "yes",
    "--bind",
    "127.0.0.1",
    "-::1",
    "--port",
    "6379",
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    "/tmp",
    "--logfile",
    "/tmp/hustlehub-redis.log",
]


def _listening(addr: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(addr, timeout=0.5):
            return True
    except OSError:
        return False


def ensure_redis() -> None:
    if _listening(REDIS_ADDR):
        return
    if shutil.which("redis-server") is None:
        sys.exit("gate: Redis is not running on 127.0.0.1:6379 and redis-server is not installed")
    print("gate: starting redis-server on 127.0.0.1:6379", flush=True)
    subprocess.run(REDIS_START, check=True)
    deadline = time.monotonic() + 10
    while not _listening(REDIS_ADDR):
        if time.monotonic() > deadline:
            sys.exit("gate: redis-server did not start within 10 s")
        time.sleep(0.1)


def ensure_postgres() -> None:
    if _listening(POSTGRES_ADDR):
        return
    # Debian's layout: /etc/postgresql/<version>/main, started with pg_ctlcluster.
    versions = (
        sorted(p.name for p in POSTGRES_CONFIGS.iterdir()) if POSTGRES_CONFIGS.is_dir() else []
    )
    if not versions or shutil.which("pg_ctlcluster") is None:
        sys.exit("gate: PostgreSQL is not running on 127.0.0.1:5432 and no cluster is installed")
    print(f"gate: starting PostgreSQL {versions[-1]} (cluster main)", flush=True)
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"], check=True
    )
    deadline = time.monotonic() + POSTGRES_START_S
    while not _listening(POSTGRES_ADDR):
        if time.monotonic() > deadline:
            sys.exit(f"gate: PostgreSQL did not listen within {POSTGRES_START_S} s")
        time.sleep(0.2)


def ensure_prometheus_tools() -> None:
    # The rule tests and the scrape test need promtool and prometheus, the alert delivery test
    # an alertmanager too; installing them here, once, keeps an apt-get run out of any test's
    # own time limit.
    try:
        tools = prometheus_tools.find_or_install()
        alertmanager = alertmanager_tools.find_or_install()
    except ToolsUnavailable as exc:
        sys.exit(f"gate: {exc}")
    print(
        f"gate: promtool {tools.promtool}, prometheus {tools.prometheus}, "
        f"alertmanager {alertmanager}",
        flush=True,
    )


def ensure_compose() -> None:
    # tests/deploy validates docker-compose.yml with `config`, which needs no Docker engine.
    try:
        argv = compose_tools.find_or_install()
    except ToolsUnavailable as exc:
        sys.exit(f"gate: {exc}")
    print(f"gate: compose {' '.join(argv)}", flush=True)


def ensure_frontend_tools() -> None:
    # tests/frontend: node, npm and clients/web's pinned tools (npm ci) for the typed client;
    # Debian's chromium and chromium-driver for the example client's browser test.
    try:
        client_dir = node_tools.find_or_install()
        browser = browser_tools.find_or_install()
    except ToolsUnavailable as exc:
        sys.exit(f"gate: {exc}")
    print(f"gate: {client_dir}/node_modules, {browser.chromium}, {browser.driver}", flush=True)


def run(step: str, argv: list[str]) -> None:
    print(f"gate: {step}: {' '.join(argv)}", flush=True)
    code = subprocess.call(argv)
    if code != 0:
        sys.exit(f"gate: {step} failed with exit code {code}")


def main() -> None:
    py = sys.executable
    ensure_redis()
    ensure_postgres()
    ensure_prometheus_tools()
    ensure_compose()
    ensure_frontend_tools()
    run("ruff check", [py, "-m", "ruff", "check", "."])
    run("ruff format", [py, "-m", "ruff", "format", "--check", "."])
    run("mypy", [py, "-m", "mypy"])
    # The layer contracts of pyproject.toml [tool.importlinter] (docs/architecture.md).
    run("import contracts", [str(Path(py).parent / "lint-imports"), "--no-logo"])
    run("pytest", [py, "-m", "pytest", *sys.argv[1:]])


if __name__ == "__main__":
    main()
