"""The service and its dependencies for a load test or a benchmark, on loopback.

`dev_stack()` runs dev mode (`python -m service dev`) as a child process: moto's server for
DynamoDB and Cognito, the local Redis, the table, the demo data and users. What the rest needs
(the dev users, the pool, where DynamoDB, the table and Redis are) is read from the state file
it writes, var/dev-state.json; the synthetic load-test data set is optionally seeded on top.
`service()` then runs `hustlehub serve` against it as a child process, configured the way
production is: HUSTLEHUB_* environment variables only. Several services (in-process cache on or
off, one or two workers) can run against one stack in turn. Nothing here imports the service:
it is started, asked over HTTP and stopped, as an operator would.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from loadtests import fixture as fixtures

SEED_LOG = Path("var/loadtest-seed.log")
SERVICE_LOG = Path("var/loadtest-service.log")
DEV_LOG = Path("var/loadtest-dev.log")
# moto, a Cognito pool, the table and the demo data, on a machine busy with other work.
DEV_READY_S = 180.0
STOP_S = 30.0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Stack:
    env: dict[str, str]  # what a `hustlehub serve` needs to use this stack
    state: Path  # dev mode's state file: the dev users sign in from it
    dev_url: str  # dev mode's own server (not the one measured)


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


def _env_of(dev: fixtures.DevState) -> dict[str, str]:
    if dev.table_name is None:
        raise RuntimeError("dev mode's state file names no table: is dev mode older than this?")
    return {
        "HUSTLEHUB_MODE": "dev",
        # Without a DynamoDB endpoint of its own, dev mode serves DynamoDB from its Cognito moto.
        "HUSTLEHUB_DYNAMODB_ENDPOINT": dev.dynamodb_endpoint or dev.endpoint,
        "HUSTLEHUB_TABLE_NAME": dev.table_name,
        "HUSTLEHUB_REDIS_URL": dev.redis_url or "",
        # A prefix of this run's own: the machine's Redis may be shared with the test suite.
        "HUSTLEHUB_REDIS_PREFIX": f"hh-load-{uuid.uuid4().hex[:8]}",
        "HUSTLEHUB_COGNITO_REGION": dev.region,
        "HUSTLEHUB_COGNITO_USER_POOL_ID": dev.pool_id,
        "HUSTLEHUB_COGNITO_APP_CLIENT_IDS": dev.client_id,
        "HUSTLEHUB_COGNITO_JWKS_URL": dev.jwks_url,
    }


def stop(proc: subprocess.Popen[bytes], *, within_s: float = STOP_S, group: bool = False) -> None:
    """SIGINT (the service drains; moto stops faster on it than on SIGTERM), then SIGKILL once
    `within_s` has passed: to the process's whole group with `group` (the process leads one of
    its own), so no child of a wedged process outlives it."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=within_s)
    except subprocess.TimeoutExpired:
        if group:
            # Still unreaped, so its id still names its group.
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
        proc.wait(timeout=10)


@contextlib.contextmanager
def dev_mode(*, within_s: float = DEV_READY_S) -> Iterator[tuple[str, fixtures.DevState]]:
    """`python -m service dev` on a free loopback port, until ready; its URL and state file."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    # The state file read below must be this run's, not one an earlier dev mode left.
    fixtures.DEV_STATE.unlink(missing_ok=True)
    env = {
        **os.environ,
        "HUSTLEHUB_MODE": "dev",
        "HUSTLEHUB_HOST": "127.0.0.1",
        # Its own server only answers readiness: no stream consumer of its own polling moto
        # beside the services measured.
        "HUSTLEHUB_STREAM_INVALIDATION": "false",
    }
    DEV_LOG.parent.mkdir(parents=True, exist_ok=True)
    with DEV_LOG.open("ab") as log:
        # A session of its own: on a stop that times out, the group (moto and a private
        # redis-server among it) is killed together.
        proc = subprocess.Popen(
            [sys.executable, "-m", "service", "dev", "--port", str(port)],
            env=env, stdout=log, stderr=log, start_new_session=True,
        )  # fmt: skip
        try:
            wait_up(base_url, within_s=within_s, proc=proc, log=DEV_LOG)
            yield base_url, fixtures.DevState.read(fixtures.DEV_STATE)
        finally:
            stop(proc, group=True)


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
    with dev_mode() as (dev_url, dev):
        env = _env_of(dev)
        if users or listings:
            print(
                f"seeding {users} users and {listings} listings (log: {SEED_LOG}) ...", flush=True
            )
            took = seed_synthetic(env, users=users, listings=listings)
            print(f"seeded in {took:.0f} s", flush=True)
        yield Stack(env, fixtures.DEV_STATE, dev_url)


def wait_up(
    base_url: str,
    *,
    within_s: float = 60,
    proc: subprocess.Popen[bytes] | None = None,
    log: Path = SERVICE_LOG,
) -> None:
    """Until `/readyz` answers 200; fails early if `proc` (the server) exits first."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{base_url}'s server exited with {proc.returncode}; see {log}")
        with (
            contextlib.suppress(urllib.error.URLError, OSError),
            urllib.request.urlopen(f"{base_url}/readyz", timeout=1) as response,  # noqa: S310
        ):
            if response.status == 200:
                return
        time.sleep(0.1)
    raise TimeoutError(f"{base_url} was not ready within {within_s} s; see {log}")


@contextlib.contextmanager
def service(
    stack: Stack,
    *,
    workers: int = 1,
    overrides: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Iterator[Service]:
    """`hustlehub serve` on this stack; from `cwd`, another checkout's code, if given (`-m`
    puts the working directory first on the path)."""
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
    proc = subprocess.Popen(argv, env=env, stdout=stack_log, stderr=stack_log, cwd=cwd)
    running = Service(proc, f"http://127.0.0.1:{port}", workers, env)
    try:
        wait_up(running.base_url, proc=proc)
        yield running
    finally:
        stop(proc)
        stack_log.close()
