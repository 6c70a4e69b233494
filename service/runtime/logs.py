"""Logs: every line is one event, JSON in production (one object a line, what CloudWatch Logs
indexes), readable in a terminal in dev; configured once per process from Settings.

The code logs through the standard library (`logging.getLogger(__name__)`, `extra=` for
fields), and so do botocore, aiohttp and redis-py: structlog's ProcessorFormatter turns each
record into an event dict, adds the level, logger, time and the id of the request the line
was written for, formats an exception as one field of that one event, takes out anything that
looks like a secret, and renders it.

The request id is read from the box the endpoint wrapper opens per request (metrics.waits), so
a log call pays for one context variable read, and a request pays for no binding of its own.
Tasks a request starts (a cache load, an invalidation) inherit the box and so the id.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable, Iterable, MutableMapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any, TextIO

import orjson
import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from metrics import waits
from service.config import LogFormat, LogLevel, Settings

REDACTED = "[redacted]"
# Field names whose values are never written, whatever they hold.
_SECRET_KEYS = re.compile(r"authorization|token|secret|password|passwd|dsn|cookie|credential", re.I)
# What a secret looks like inside free text: a JWT (three base64url parts, the first two
# JSON objects, so "eyJ"), a bearer credential, a password in a URL's userinfo, and what
# botocore's debug lines show of a signed request (the signature, a session token).
_SECRET_TEXT = (
    (re.compile(r"eyJ[\w-]*\.[\w-]+\.[\w-]*"), REDACTED),
    (re.compile(r"(?i)(bearer\s+)[^\s,;\"']+"), rf"\1{REDACTED}"),
    (re.compile(r"(://[^/\s:@]+:)[^@\s/]+@"), rf"\1{REDACTED}@"),
    (re.compile(r"(?i)(signature=)[0-9a-f]{16,}"), rf"\1{REDACTED}"),
    (re.compile(r"(?i)(x-amz-security-token'?\"?:\s*b?['\"])[^'\"]+"), rf"\1{REDACTED}"),
)
# One search that every pattern above needs to match: most strings (a route, a request id)
# pass it at once, and the patterns run only on the few that might hold a secret.
_MIGHT_HOLD_SECRET = re.compile(r"eyJ|bearer|://|signature=|security-token", re.I)

TraceContext = Callable[[], dict[str, str] | None]
# Set while tracing runs (service.runtime.tracing): the current span's trace and span ids.
_trace_context: list[TraceContext] = []


def add_trace_context(context: TraceContext) -> None:
    if context not in _trace_context:
        _trace_context.append(context)


def remove_trace_context(context: TraceContext) -> None:
    if context in _trace_context:
        _trace_context.remove(context)


def service_version() -> str:
    try:
        return version("hustlehub-directory")
    except PackageNotFoundError:  # a source tree that was never installed
        return "unknown"


def _request_context(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    box = waits.current()
    if box is not None and box.request_id:
        event.setdefault("request_id", box.request_id)
    for context in _trace_context:
        ids = context()
        if ids is not None:
            for key, value in ids.items():
                event.setdefault(key, value)
    return event


class Redactor:
    """Takes secrets out of an event: by field name, by shape, and the configured secrets'
    own values (the cursor key, the legacy DSN) wherever they appear."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = tuple(s for s in secrets if len(s) >= 6)
        # Field names repeat (every access-log line has the same ones): decided once each.
        self._secret_key: dict[str, bool] = {}

    def __call__(self, _: WrappedLogger, __: str, event: EventDict) -> EventDict:
        for key, value in event.items():
            # Strings first and by exact type: nearly every field is one, or a number.
            if type(value) is str:
                event[key] = REDACTED if self._named_secret(key) else self.text(value)
            elif isinstance(value, MutableMapping | list | tuple) and not key.startswith("_"):
                event[key] = REDACTED if self._named_secret(key) else self._scrub(value)
        return event

    def _named_secret(self, key: str) -> bool:
        named = self._secret_key.get(key)
        if named is None:
            named = _SECRET_KEYS.search(key) is not None
            if len(self._secret_key) < 1024:
                self._secret_key[key] = named
        return named

    def _scrub(self, value: object) -> object:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, MutableMapping):
            return {
                k: REDACTED if _SECRET_KEYS.search(str(k)) else self._scrub(v)
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [self._scrub(v) for v in value]
        return value

    def text(self, value: str) -> str:
        for secret in self._secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        if _MIGHT_HOLD_SECRET.search(value) is None:
            return value
        for pattern, replacement in _SECRET_TEXT:
            value = pattern.sub(replacement, value)
        return value


def _json(event: Any, **_: Any) -> str:
    return orjson.dumps(event, default=str).decode()


def _secrets_of(settings: Settings) -> list[str]:
    optional = (settings.migration.legacy_dsn, settings.migrate_dsn)
    return [settings.cursor_secret.get_secret_value()] + [
        secret.get_secret_value() for secret in optional if secret is not None
    ]


def configure(
    *,
    level: LogLevel = "info",
    renderer: LogFormat = "console",
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> logging.Handler:
    """Route every logger of the process through one handler on `stream` (stderr). Calling it
    again replaces that handler: `serve` configures from Settings what `main` set up first."""
    shared: list[Processor] = [
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"),
        _request_context,
    ]
    redact = Redactor(secrets)
    tail: list[Processor]
    if renderer == "json":
        tail = [
            # The traceback as one string field of the one event: one line in CloudWatch.
            structlog.processors.format_exc_info,
            redact,
            structlog.processors.JSONRenderer(serializer=_json),
        ]
    else:
        tail = [
            structlog.processors.format_exc_info,
            redact,
            # plain_traceback: the traceback is already the event's (redacted) `exception`.
            structlog.dev.ConsoleRenderer(
                colors=False, exception_formatter=structlog.dev.plain_traceback
            ),
        ]
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *tail],
    )
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(formatter)
    handler.set_name("hustlehub")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "hustlehub"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    return handler


def configure_from(settings: Settings, *, stream: TextIO | None = None) -> logging.Handler:
    return configure(
        level=settings.log_level,
        renderer=settings.log_renderer,
        secrets=_secrets_of(settings),
        stream=stream,
    )


def startup_fields(settings: Settings, *, port: int) -> dict[str, object]:
    """What the start-up line says: enough to tell from the log which build runs how."""
    layers = ["memory", "redis"] if settings.redis_url else ["memory"]
    return {
        "version": service_version(),
        "mode": settings.mode,
        "port": port,
        "workers": settings.workers,
        "worker_slot": settings.worker_slot,
        "migration_phase": settings.migration.phase,
        "cache_layers": layers,
        "stream_invalidation": settings.stream_invalidation_enabled,
        "access_log": settings.access_log,
    }
