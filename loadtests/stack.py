"""The service and its dependencies for a load test or a benchmark, on loopback.

`dev_stack()` is dev mode's environment (moto's server for DynamoDB and Cognito, the local
Redis, the table, the demo data and users, var/dev-state.json), optionally with the synthetic
load-test data set on top. `service()` then runs `hustlehub serve` against it as a child
process, configured the way production is: HUSTLEHUB_* environment variables only. Several
services (in-process cache on or off, one or two workers) can run against one stack in turn.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from service.config import Settings
from service.dev.devmode import dev_environment
from service.dev.devserver import free_port

SEED_LOG = Path("var/loadtest-seed.log")
SERVICE_LOG = Path("var/loadtest-service.log")


@dataclass(frozen=True)
class Stack:
    env: dict[str, str]  # what a `hustlehub serve` needs to use this stack


@dataclass
class Service:
    proc: subprocess.Popen[bytes]
    base_url: str
    workers: int
    env: dict[str, str] = field(default_factory=dict)

    def pids(self) -> list[int]:
        """The serving processes: the worker children with --workers > 1, else the process."""
        if self.workers <= 1:
            return [self.proc.pid]
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(pid) for pid in children.read_text().split()] or [self.proc.pid]

    def rss_bytes(self) -> int:
        """Resident memory of the serving processes, summed, from /proc."""
        total = 0
        for pid in self.pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        return total


def _env_of(settings: Settings) -> dict[str, str]:
    return {
        "HUSTLEHUB_MODE": "dev",
        "HUSTLEHUB_DYNAMODB_ENDPOINT": settings.dynamodb_endpoint or "",
        "HUSTLEHUB_TABLE_NAME": settings.table_name,
        "HUSTLEHUB_REDIS_URL": settings.redis_url or "",
        # A prefix of this run's own: the machine's Redis may be shared with the test suite.
        "HUSTLEHUB_REDIS_PREFIX": f"hh-load-{uuid.uuid4().hex[:8]}",
        "HUSTLEHUB_COGNITO_USER_POOL_ID": settings.cognito_user_pool_id,
        "HUSTLEHUB_COGNITO_APP_CLIENT_IDS": ",".join(settings.cognito_app_client_ids),
        "HUSTLEHUB_COGNITO_JWKS_URL": settings.cognito_jwks_url or "",
    }


def seed_synthetic(env: Mapping[str, str], *, users: int, listings: int) -> float:
    """`hustlehub seed --synthetic`, its progress to SEED_LOG; returns the seconds it took."""
    started = time.monotonic()
    SEED_LOG.parent.mkdir(parents=True, exist_ok=True)
    # moto slows down as the table grows: give a batch more than the service's 3 s budget.
    slow_ok = {
        "HUSTLEHUB_DYNAMODB_CALL_DEADLINE_S": "120",
        "HUSTLEHUB_DYNAMODB_READ_TIMEOUT_S": "120",
    }
    with SEED_LOG.open("wb") as log:
        subprocess.run(
            [sys.executable, "-m", "service", "seed", "--synthetic", "--users", str(users),
             "--listings", str(listings)],
            env={**os.environ, **env, **slow_ok}, stderr=log, stdout=log, check=True,
            timeout=1800,
        )  # fmt: skip
    return time.monotonic() - started


@contextlib.contextmanager
def dev_stack(*, users: int = 0, listings: int = 0) -> Iterator[Stack]:
    with dev_environment(Settings(mode="dev")) as settings:
        env = _env_of(settings)
        if users or listings:
            print(
                f"seeding {users} users and {listings} listings (log: {SEED_LOG}) ...", flush=True
            )
            took = seed_synthetic(env, users=users, listings=listings)
            print(f"seeded in {took:.0f} s", flush=True)
        yield Stack(env)


def wait_up(base_url: str, *, within_s: float = 60) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(urllib.error.URLError, OSError),
            urllib.request.urlopen(f"{base_url}/readyz", timeout=1) as response,  # noqa: S310
        ):
            if response.status == 200:
                return
        time.sleep(0.1)
    raise TimeoutError(f"{base_url} was not ready within {within_s} s")


@contextlib.contextmanager
def service(
    stack: Stack, *, workers: int = 1, overrides: Mapping[str, str] | None = None
) -> Iterator[Service]:
    port = free_port()
    env = {
        **os.environ,
        **stack.env,
        **(overrides or {}),
        "HUSTLEHUB_HOST": "127.0.0.1",
        "HUSTLEHUB_PORT": str(port),
    }
    argv = [sys.executable, "-m", "service", "serve", "--drain", "0"]
    if workers > 1:
        argv += ["--workers", str(workers)]
    SERVICE_LOG.parent.mkdir(parents=True, exist_ok=True)
    stack_log = SERVICE_LOG.open("ab")
    proc = subprocess.Popen(argv, env=env, stdout=stack_log, stderr=stack_log)
    running = Service(proc, f"http://127.0.0.1:{port}", workers, env)
    try:
        wait_up(running.base_url)
        yield running
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        stack_log.close()
