"""The service's own log handler (service.runtime.logs) writing to a buffer, for tests that
read the lines a real run writes."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from service.config import LogFormat, LogLevel
from service.runtime import logs


class Lines:
    def __init__(self, buffer: io.StringIO) -> None:
        self._buffer = buffer

    @property
    def text(self) -> str:
        return self._buffer.getvalue()

    def events(self) -> list[dict[str, Any]]:
        """Every line as its JSON object (the renderer must be json)."""
        return [json.loads(line) for line in self.text.splitlines() if line.strip()]


@contextmanager
def captured_logs(
    *, level: LogLevel = "debug", renderer: LogFormat = "json", secrets: tuple[str, ...] = ()
) -> Iterator[Lines]:
    root = logging.getLogger()
    before = root.level
    buffer = io.StringIO()
    handler = logs.configure(level=level, renderer=renderer, secrets=secrets, stream=buffer)
    try:
        yield Lines(buffer)
    finally:
        root.removeHandler(handler)
        root.setLevel(before)
