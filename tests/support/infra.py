"""What a test needs outside its own process, as a pytest marker, and the guard that keeps the
markers true.

A test is marked by the fixtures it requests: a fixture that starts or reaches a piece of
infrastructure says so with `@needs(...)`, and every test whose fixture closure holds it gets
the marker (`mark_by_fixtures`, called from the root conftest at collection). A test whose own
body reaches something (spawns the service, say) is marked by hand: `pytestmark` when the
whole module does, `@pytest.mark.<kind>` on the test otherwise.

The guard holds each test to its markers while it sets up and runs: connecting to Redis
(6379), PostgreSQL (5432) or the suite's moto server, spawning a process, or handing a child
process the address of one of those servers, is refused (as if nothing listened) and fails
the test, unless the test is marked for it. So a missing marker cannot go unnoticed: the
unmarked tests (`make test-fast`) are proven to pass with no infrastructure at all, and
`-m "not X"` selects only tests that do not need X. Teardown is not watched: a module or
session fixture is torn down in whichever test happens to run last, marked or not.
"""

from __future__ import annotations

import errno
import os
import re
import sys
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from typing import Any, TypeVar

import pytest

REDIS = "redis"
DYNAMODB = "dynamodb"
POSTGRES = "postgres"
PROMETHEUS = "prometheus"
SUBPROCESS = "subprocess"
KINDS = (REDIS, DYNAMODB, POSTGRES, PROMETHEUS, SUBPROCESS)

REDIS_PORT = 6379
POSTGRES_PORT = 5432

_ATTRIBUTE = "__hustlehub_needs__"
_LOOPBACK_PORT = re.compile(r"(?:127\.0\.0\.1|localhost|\[::1\]):(\d+)")
F = TypeVar("F", bound=Callable[..., Any])


def needs(*kinds: str) -> Callable[[F], F]:
    """Declare what a fixture reaches; put it under `@pytest.fixture`."""
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown infrastructure {sorted(unknown)}; known: {KINDS}")

    def declare(func: F) -> F:
        setattr(func, _ATTRIBUTE, frozenset(kinds) | getattr(func, _ATTRIBUTE, frozenset()))
        return func

    return declare


def _declared(func: object) -> frozenset[str]:
    # pytest-asyncio wraps async fixtures (functools.wraps copies the attribute, and keeps
    # `__wrapped__`): look through every layer.
    found: frozenset[str] = frozenset()
    while func is not None:
        found |= getattr(func, _ATTRIBUTE, frozenset())
        func = getattr(func, "__wrapped__", None)
    return found


def _fixture_defs(item: pytest.Item) -> Iterator[Any]:
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return
    for name in item.fixturenames:  # type: ignore[attr-defined]
        # The last definition is the one in force; an override that requests its own name
        # also runs the one it overrides.
        for fixturedef in reversed(info.name2fixturedefs.get(name, ())):
            yield fixturedef
            if name not in fixturedef.argnames:
                break


def required_by_fixtures(item: pytest.Item) -> frozenset[str]:
    found: frozenset[str] = frozenset()
    for fixturedef in _fixture_defs(item):
        found |= _declared(fixturedef.func)
    return found


def marked(item: pytest.Item) -> frozenset[str]:
    return frozenset(kind for kind in KINDS if item.get_closest_marker(kind) is not None)


def mark_by_fixtures(items: Iterable[pytest.Item]) -> None:
    for item in items:
        for kind in sorted(required_by_fixtures(item) - marked(item)):
            item.add_marker(kind)


def check_registered(config: pytest.Config) -> None:
    """Each kind must be a marker registered in pyproject.toml, so `-m` expressions and
    `--strict-markers` know it."""
    registered = {line.split(":", 1)[0].strip() for line in config.getini("markers")}
    missing = [kind for kind in KINDS if kind not in registered]
    if missing:
        raise pytest.UsageError(f"markers {missing} are not registered in pyproject.toml")


def _argv_text(args: object) -> str:
    if isinstance(args, (str, bytes, os.PathLike)):
        return os.fsdecode(args)
    if isinstance(args, Iterable):
        return " ".join(os.fsdecode(a) if isinstance(a, (str, bytes, os.PathLike)) else str(a)
                        for a in args)  # fmt: skip
    return str(args)


def _program(executable: object, args: object) -> str:
    if executable is not None:
        return os.path.basename(_argv_text(executable))
    text = _argv_text(args)
    return os.path.basename(text.split()[0]) if text else ""


def spawn_kinds(executable: object, args: object) -> frozenset[str]:
    """The markers any one of which allows spawning this program: the infrastructure it is
    part of, else `subprocess`."""
    program, argv = _program(executable, args), _argv_text(args)
    if "service.dev.motoserver" in argv:
        return frozenset({DYNAMODB})
    if program.startswith("redis-"):
        return frozenset({REDIS})
    if program in {"promtool", "prometheus", "alertmanager", "prometheus-alertmanager"}:
        return frozenset({PROMETHEUS})
    if program in {"apt-get", "dpkg"}:
        # find_or_install() installs Prometheus, Alertmanager or Compose when missing.
        return frozenset({PROMETHEUS, SUBPROCESS})
    return frozenset({SUBPROCESS})


class Guard:
    """An audit hook (`sys.addaudithook`: it cannot be removed, so it is installed once and
    does nothing outside a watched phase) that refuses what the watched test is not marked
    for, and remembers it."""

    def __init__(self) -> None:
        self._ports: dict[int, str] = {REDIS_PORT: REDIS, POSTGRES_PORT: POSTGRES}
        self._allowed: frozenset[str] | None = None
        self._reached: list[str] = []
        sys.addaudithook(self.audit)

    def serves(self, kind: str, port: int) -> None:
        """A server the suite started for `kind` listens on `port` (the moto server)."""
        self._ports[port] = kind

    def watch(self, allowed: frozenset[str]) -> None:
        self._allowed, self._reached = allowed, []

    def stop(self) -> list[str]:
        reached, self._allowed, self._reached = self._reached, None, []
        return reached

    def _refuse(self, what: str, kinds: Iterable[str]) -> str:
        message = f"{what} needs the marker {' or '.join(sorted(kinds))}"
        if message not in self._reached:
            self._reached.append(message)
        return message

    def audit(self, event: str, args: tuple[Any, ...]) -> None:
        allowed = self._allowed
        if allowed is None:
            return
        if event == "socket.connect":
            address = args[1]
            if isinstance(address, tuple) and len(address) >= 2:
                kind = self._ports.get(address[1])
                if kind is not None and kind not in allowed:
                    message = self._refuse(f"a connection to {address[0]}:{address[1]}", [kind])
                    raise ConnectionRefusedError(errno.ECONNREFUSED, message)
        elif event == "subprocess.Popen":
            program = _argv_text(args[1])[:200]
            kinds = spawn_kinds(args[0], args[1])
            if not kinds & allowed:
                message = self._refuse(f"spawning {program!r}", kinds)
                raise PermissionError(errno.EPERM, message)
            for kind in sorted(self._handed(args[1], args[3]) - allowed):
                message = self._refuse(f"handing {program!r} the address of {kind}", [kind])
                raise PermissionError(errno.EPERM, message)
        # os.posix_spawn is left out: subprocess.Popen may use it, after its own event.
        elif event in {"os.fork", "os.forkpty", "os.system"} and SUBPROCESS not in allowed:
            message = self._refuse(f"{event}()", [SUBPROCESS])
            raise PermissionError(errno.EPERM, message)

    def _handed(self, argv: object, env: Mapping[str, str] | None) -> set[str]:
        # The child's connections are out of the hook's sight; what it is told to reach (its
        # HUSTLEHUB_* settings, a --dsn) is not.
        environment = os.environ if env is None else env
        settings = [value for key, value in environment.items() if key.startswith("HUSTLEHUB_")]
        text = " ".join([_argv_text(argv), *settings])
        return {kind for port in _LOOPBACK_PORT.findall(text)
                if (kind := self._ports.get(int(port))) is not None}  # fmt: skip

    def failure(self, item: pytest.Item, reached: list[str]) -> BaseException:
        held = ", ".join(sorted(marked(item))) or "none"
        lines = "\n".join(f"  {line}" for line in reached)
        return pytest.fail.Exception(
            f"{item.nodeid} reached infrastructure it is not marked for (markers: {held}):\n"
            f"{lines}\nmark the fixture that reaches it with tests.support.infra.needs(), or "
            "the module with pytestmark",
            pytrace=False,
        )


GUARD = pytest.StashKey[Guard]()


def install(config: pytest.Config) -> None:
    check_registered(config)
    config.stash[GUARD] = Guard()


def guard(config: pytest.Config) -> Guard:
    return config.stash[GUARD]


def watched(item: pytest.Item) -> Generator[None, object, object]:
    """The body of a `wrapper=True` hook around a test's setup or call: the guard watches it,
    and a test that reached what it is not marked for fails, whatever else happened."""
    watching = guard(item.config)
    watching.watch(marked(item))
    try:
        result = yield
    except BaseException as exc:
        reached = watching.stop()
        if reached:
            raise watching.failure(item, reached) from exc
        raise
    reached = watching.stop()
    if reached:
        raise watching.failure(item, reached)
    return result
