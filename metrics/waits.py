"""How long a request waited on DynamoDB and Redis, so that its own time can be told apart.

The endpoint wrapper opens a box per request (`begin`/`end`, a context variable: each request
runs in a task of its own); the data layer adds each DynamoDB call's duration (`add`), and a
cache lookup that left the process (a Redis read, a load) is timed as a whole (`waited`), its
DynamoDB calls inside it not counted twice. A request's own time is its duration minus what
it waited: for a cached read, the service's code alone; on an emulator that is the part of a
run that says whether the service itself holds its targets.

What a load renders inside a timed lookup counts as waiting (it is a miss's cost, not a hit's);
concurrent calls of one request are counted once each, so own time is a lower bound then.

The box also counts the request's DynamoDB calls (for its access-log line) and carries its
request id: the log lines written while the request runs name it by reading the box the
wrapper opened anyway, so a request pays for one context variable, not one per concern.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token


class Box:
    __slots__ = ("depth", "dynamodb_calls", "request_id", "waited")

    def __init__(self, request_id: str) -> None:
        self.waited = 0.0  # seconds
        self.depth = 0  # timed lookups open
        self.dynamodb_calls = 0
        self.request_id = request_id


_box: ContextVar[Box | None] = ContextVar("hustlehub_waited", default=None)
_clock = time.perf_counter


def begin(request_id: str = "") -> Token[Box | None]:
    return _box.set(Box(request_id))


def end(token: Token[Box | None]) -> Box | None:
    """The request's box, closed."""
    box = _box.get()
    _box.reset(token)
    return box


def current() -> Box | None:
    """The box of the request this code runs for, if any."""
    return _box.get()


def add(seconds: float) -> None:
    """One DynamoDB call that took `seconds`."""
    box = _box.get()
    if box is not None:
        box.dynamodb_calls += 1
        if box.depth == 0:
            box.waited += seconds


@contextmanager
def waited() -> Iterator[None]:
    box = _box.get()
    if box is None:
        yield
        return
    started = _clock()
    box.depth += 1
    try:
        yield
    finally:
        box.depth -= 1
        if box.depth == 0:
            box.waited += _clock() - started
