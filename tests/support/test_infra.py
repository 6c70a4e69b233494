"""The guard behind the markers refuses what a test is not marked for, and only that: if it
stopped seeing connections or spawns, `make test-fast` would prove nothing."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator

import pytest

from tests.support import infra


@pytest.fixture
def listening() -> Iterator[int]:
    # A port of this test's own, so the suite's guard (which knows only the real servers'
    # ports) stays out of it.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


@pytest.fixture(scope="module")
def guard() -> infra.Guard:
    # Each Guard adds an audit hook for good; one serves the module.
    return infra.Guard()


def connect(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=2):
        pass


def test_an_unmarked_connection_to_a_served_port_is_refused_and_remembered(
    guard: infra.Guard, listening: int
) -> None:
    guard.serves(infra.DYNAMODB, listening)
    guard.watch(frozenset())
    try:
        with pytest.raises(ConnectionRefusedError, match="needs the marker dynamodb"):
            connect(listening)
    finally:
        reached = guard.stop()
    assert reached == [f"a connection to 127.0.0.1:{listening} needs the marker dynamodb"]


def test_the_marker_allows_the_connection_and_other_ports_are_free(
    guard: infra.Guard, listening: int
) -> None:
    guard.serves(infra.POSTGRES, listening)
    guard.watch(frozenset({infra.POSTGRES}))
    try:
        connect(listening)
    finally:
        assert guard.stop() == []
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        guard.watch(frozenset())
        try:
            connect(other.getsockname()[1])
        finally:
            assert guard.stop() == []


def test_nothing_is_refused_outside_a_watched_phase(guard: infra.Guard, listening: int) -> None:
    guard.serves(infra.REDIS, listening)
    connect(listening)
    assert guard.stop() == []


def popen(guard: infra.Guard, argv: list[str], env: dict[str, str] | None = None) -> None:
    # The hook called as sys.audit would call it for subprocess.Popen(argv, env=env); raising
    # the real event would reach the suite's guard too, which refuses any spawn here.
    guard.audit("subprocess.Popen", (None, argv, None, env))


def test_a_child_told_where_redis_is_needs_the_redis_marker(guard: infra.Guard) -> None:
    argv = [sys.executable, "-m", "service", "serve"]
    env = {"HUSTLEHUB_REDIS_URL": f"redis://127.0.0.1:{infra.REDIS_PORT}/0"}
    guard.watch(frozenset({infra.SUBPROCESS}))
    try:
        with pytest.raises(PermissionError, match="address of redis needs the marker redis"):
            popen(guard, argv, env)
    finally:
        assert len(guard.stop()) == 1
    guard.watch(frozenset({infra.SUBPROCESS, infra.REDIS}))
    try:
        popen(guard, argv, env)
    finally:
        assert guard.stop() == []


def test_an_unmarked_spawn_is_refused(guard: infra.Guard) -> None:
    guard.watch(frozenset({infra.REDIS}))
    try:
        with pytest.raises(PermissionError, match="needs the marker subprocess"):
            popen(guard, [sys.executable, "-c", "pass"])
    finally:
        assert len(guard.stop()) == 1


@pytest.mark.parametrize(
    ("argv", "kinds"),
    [
        ([sys.executable, "-m", "service.dev.motoserver", "-p", "1"], {infra.DYNAMODB}),
        (["/usr/bin/redis-server", "--port", "1"], {infra.REDIS}),
        (["redis-cli", "-p", "1", "cluster", "info"], {infra.REDIS}),
        (["/usr/bin/promtool", "check", "rules"], {infra.PROMETHEUS}),
        (["/usr/bin/prometheus-alertmanager", "--version"], {infra.PROMETHEUS}),
        (["apt-get", "install", "-y", "prometheus"], {infra.PROMETHEUS, infra.SUBPROCESS}),
        ([sys.executable, "-m", "service", "serve"], {infra.SUBPROCESS}),
        (["docker", "compose", "version"], {infra.SUBPROCESS}),
    ],
)
def test_a_spawn_belongs_to_the_infrastructure_it_is_part_of(
    argv: list[str], kinds: set[str]
) -> None:
    assert infra.spawn_kinds(None, argv) == kinds


def test_an_unknown_kind_is_refused_where_it_is_declared() -> None:
    with pytest.raises(ValueError, match="unknown infrastructure"):
        infra.needs("kafka")
