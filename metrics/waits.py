"""How long a request waited on DynamoDB and Redis, so that its own time can be told apart.

The endpoint wrapper opens a box per request (`begin`/`end`, a context variable: each request
runs in a task of its own); the data layer adds each DynamoDB call's duration (`add`), and a
cache lookup that left the process (a Redis read, a load) is timed as a whole (`waited`), its
DynamoDB calls inside it not counted twice. A request's own time is its duration minus what
it waited: for a cached read, the service's code alone; on an emulator that is the part of a
run that says whether the service itself holds its targets.

What a load renders inside a timed lookup counts as waiting (it is a miss's cost, not a hit's);
concurrent calls of one request are counted once each, so own time is a lower bound then.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

_box: ContextVar[list[float] | None] = ContextVar("hustlehub_waited", default=None)
_clock = time.perf_counter


def begin() -> Token[list[float] | None]:
    # [seconds waited, depth of timed lookups open]
    return _box.set([0.0, 0.0])


def end(token: Token[list[float] | None]) -> float:
    """Seconds the request waited; closes its box."""
    box = _box.get()
    _box.reset(token)
    return 0.0 if box is None else box[0]


def add(seconds: float) -> None:
    box = _box.get()
    if box is not None and box[1] == 0:
        box[0] += seconds


@contextmanager
def waited() -> Iterator[None]:
    box = _box.get()
    if box is None:
        yield
        return
    started = _clock()
    box[1] += 1
    try:
        yield
    finally:
        box[1] -= 1
        if box[1] == 0:
            box[0] += _clock() - started
