"""A local three-node Redis Cluster (no replicas) on loopback, started from the machine's
redis-server, for the cluster-mode tests. Every node lives in its own temporary directory and
is stopped when the context exits."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


class ClusterUnavailable(RuntimeError):
    pass


def _free_port() -> int:
    # Cluster nodes also listen on port + 10000 (the bus): pick ports whose bus port is free too.
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port + 10000 > 65535:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise ClusterUnavailable("no free port pair for a cluster node")


def _cli(port: int, *args: str, timeout: float = 10.0) -> str:
    done = subprocess.run(
        ["redis-cli", "-h", "127.0.0.1", "-p", str(port), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return done.stdout + done.stderr


def _wait(predicate: object, *, within: float, what: str) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise ClusterUnavailable(f"{what} within {within} s")


@contextlib.contextmanager
def redis_cluster(nodes: int = 3) -> Iterator[list[int]]:
    """Start `nodes` masters, join them into one cluster, yield their ports."""
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        raise ClusterUnavailable("redis-server and redis-cli are needed for a local cluster")
    ports = [_free_port() for _ in range(nodes)]
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="hh-redis-cluster-") as root:
        try:
            for port in ports:
                workdir = Path(root) / str(port)
                workdir.mkdir()
                argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                        "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                        "--cluster-node-timeout", "2000", "--save", "", "--appendonly", "no",
                        "--dir", str(workdir), "--logfile", str(workdir / "redis.log")]  # fmt: skip
                procs.append(
                    subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                )
            for port in ports:
                _wait(lambda p=port: "PONG" in _cli(p, "ping"), within=10, what="node answers")
            created = _cli(
                ports[0],
                "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports),
                "--cluster-replicas", "0", "--cluster-yes",
                timeout=30,
            )  # fmt: skip
            if "[OK]" not in created:
                raise ClusterUnavailable(f"cluster create failed: {created[-500:]}")
            for port in ports:
                _wait(
                    lambda p=port: "cluster_state:ok" in _cli(p, "cluster", "info"),
                    within=20,
                    what="cluster state ok",
                )
            yield ports
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
