"""The request deadline: one policy for how long a request may run and what running past it is.

Every request is bounded by the same deadline (settings.request_timeout_s), applied once. Who
applies it is read from the route table (`Route.cached`, service.api.routes):

- a cached read is bounded by its use case around the cache miss (service.catalog.reads): a
  hit never waits on I/O, so it carries no timer, which on the hottest path would cost more
  than the hit itself;
- every other route is bounded whole, authentication included, by its endpoint wrapper
  (service.api.endpoint).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from service.errors import RequestTimeout

T = TypeVar("T")


class Deadline:
    __slots__ = ("seconds",)

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    async def run(self, work: Awaitable[T]) -> T:
        """`work`'s result, or RequestTimeout once it has run for `seconds`."""
        scope = asyncio.timeout(self.seconds)
        try:
            async with scope:
                return await work
        except TimeoutError as exc:
            if not scope.expired():
                raise  # someone else's timeout (a client's, a pool's): not the request's
            raise RequestTimeout(f"the request did not finish within {self.seconds:g} s") from exc
