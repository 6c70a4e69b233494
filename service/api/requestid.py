"""Request ids: the one name a client's report, a response, a problem+json body and every log
line of a request share.

A client's `X-Request-Id` is kept when it is short printable ASCII with nothing that would need
escaping in JSON or a log line; else the root of an `X-Amzn-Trace-Id` (the ALB adds one to every
request, so the id matches the load balancer's own access log); else one is made here. Made ids
are a per-process random prefix and a counter: unique across processes and restarts without a
random draw per request, which the hot path (an in-process hit) would notice.
"""

from __future__ import annotations

import itertools
import os
import re

from aiohttp import web

from service.api.problems import PROBLEM_TYPE

HEADER = "X-Request-Id"
AMZN_TRACE = "X-Amzn-Trace-Id"
MAX_LENGTH = 128
# Where made ids count from (RequestIds.new).
_FIRST = 1 << 32
# Printable ASCII except space, `"` and `\`: safe verbatim in a header, JSON and a log line.
_ACCEPTABLE = re.compile(rf"[!#-\[\]-~]{{1,{MAX_LENGTH}}}")


def acceptable(value: str) -> bool:
    return _ACCEPTABLE.fullmatch(value) is not None


# The `Root=` field of an X-Amzn-Trace-Id, the same characters as above less `;`: one search,
# since behind an ALB every request carries the header.
_AMZN_ROOT = re.compile(rf"(?:^|;)\s*Root=([!#-:<-\[\]-~]{{1,{MAX_LENGTH}}})(?:;|$)")


def amzn_root(value: str) -> str | None:
    """The `Root=` field of an X-Amzn-Trace-Id (`Root=1-5759e988-bd862e3fe1be46a994272793;...`)."""
    found = _AMZN_ROOT.search(value)
    return None if found is None else found.group(1)


class RequestIds:
    """Made per process (create_app runs in each worker), so that forked workers do not share
    a prefix."""

    __slots__ = ("_counter", "_prefix")

    def __init__(self) -> None:
        self._prefix = os.urandom(8).hex()
        # From 2**32: every id has at least 9 hex digits after its prefix, with no padding to
        # format (an f-string's `:08x` took twice as long as the rest of the id).
        self._counter = itertools.count(_FIRST)

    def new(self) -> str:
        return self._prefix + hex(next(self._counter))[2:]

    def of(self, request: web.Request) -> str:
        headers = request.headers
        given = headers.get(HEADER)
        if given is not None and _ACCEPTABLE.fullmatch(given) is not None:
            return given
        trace = headers.get(AMZN_TRACE)
        if trace is not None:
            found = _AMZN_ROOT.search(trace)
            if found is not None:
                return found.group(1)
        return self._prefix + hex(next(self._counter))[2:]


def stamp_problem(response: web.StreamResponse, request_id: str) -> None:
    """Carry the request id in a problem+json body (RFC 9457 allows extension members).

    Done to the rendered bytes, once, for every problem whatever made it (a translated error,
    a cached negative entry, a CORS refusal): the id was checked to need no JSON escaping."""
    if not isinstance(response, web.Response) or response.content_type != PROBLEM_TYPE:
        return
    body = response.body
    if isinstance(body, bytes) and body.endswith(b"}") and len(body) > 2:
        response.body = body[:-1] + b',"requestId":"' + request_id.encode() + b'"}'
