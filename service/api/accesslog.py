"""The access log: one event per request worth a line, written by the endpoint wrapper, which
already knows the route template, status, duration and the request's DynamoDB calls.

aiohttp's own access logger formats every request (measured at several times the handler's
cost of an in-process hit), and sees only the raw path. This one decides first, with two
comparisons and at most one random draw, and formats only what it keeps: every 4xx and 5xx,
every request slower than a threshold, and a sample of the rest (`errors`, the default), or
every request (`all`).

The signed-in user is named by a keyed hash of the subject: lines of one user can be followed
without the log holding an id that maps back to a person.
"""

from __future__ import annotations

import hashlib
import logging

from aiohttp import web

from service.config import Settings
from service.runtime.appkeys import PRINCIPAL

log = logging.getLogger("hustlehub.access")


class AccessLog:
    __slots__ = ("_key", "min_status", "sample", "slow_s")

    def __init__(self, *, min_status: int, slow_s: float, sample: float, key: bytes) -> None:
        self.min_status = min_status
        self.slow_s = slow_s
        self.sample = sample
        self._key = hashlib.blake2b(key, digest_size=32).digest()

    @classmethod
    def from_settings(cls, settings: Settings) -> AccessLog | None:
        if settings.access_log == "off":
            return None
        key = settings.cursor_secret.get_secret_value().encode()
        if settings.access_log == "all":
            return cls(min_status=0, slow_s=0.0, sample=1.0, key=key)
        return cls(
            min_status=400,
            slow_s=settings.access_log_slow_s,
            sample=settings.access_log_sample,
            key=key,
        )

    def user(self, sub: str) -> str:
        return hashlib.blake2b(sub.encode(), key=self._key, digest_size=8).hexdigest()

    def write(
        self,
        request: web.Request,
        response: web.StreamResponse,
        *,
        route: str,
        status: int,
        elapsed: float,
        request_id: str,
        source: str,
        dynamodb_calls: int,
    ) -> None:
        principal = request.get(PRINCIPAL)
        fields: dict[str, object] = {
            "request_id": request_id,
            "method": request.method,
            "route": route,
            "status": status,
            "duration_ms": round(elapsed * 1000, 3),
            "bytes": response.content_length or 0,
            "cache": source,
            "dynamodb_calls": dynamodb_calls,
        }
        if principal is not None:
            fields["user"] = self.user(principal.sub)
        level = logging.WARNING if status >= 500 else logging.INFO
        log.log(level, "request", extra=fields)
