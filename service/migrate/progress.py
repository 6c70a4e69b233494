"""A one-line progress bar on stderr: count, percentage, items/s, time left.

Redrawn at most every `interval_s` (a terminal needs no more, and a log file gets one line per
interval instead of one per item). On a terminal it redraws in place; otherwise it writes
lines, so a redirected run still shows where it got to.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

_WIDTH = 30


class Progress:
    def __init__(
        self,
        label: str,
        total: int | None,
        *,
        stream: TextIO | None = None,
        interval_s: float | None = None,
        start: int = 0,
    ) -> None:
        self.label = label
        self.total = total
        self.done = start
        self._stream = stream if stream is not None else sys.stderr
        self._tty = self._stream.isatty()
        self._interval = interval_s if interval_s is not None else (0.2 if self._tty else 5.0)
        self._started = time.monotonic()
        self._from = start
        self._drawn = 0.0

    def advance(self, count: int = 1) -> None:
        self.done += count
        now = time.monotonic()
        if now - self._drawn >= self._interval:
            self._draw(now)

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self._started
        return (self.done - self._from) / elapsed if elapsed > 0 else 0.0

    def line(self) -> str:
        rate = self.rate
        parts = [f"{self.label}: {self.done:,}"]
        if self.total:
            share = min(1.0, self.done / self.total)
            bar = "#" * int(share * _WIDTH)
            parts = [f"{self.label} [{bar:<{_WIDTH}}] {self.done:,}/{self.total:,} {share:4.0%}"]
            if rate > 0 and self.done < self.total:
                parts.append(f"{(self.total - self.done) / rate:,.0f} s left")
        parts.insert(1, f"{rate:,.0f}/s" if self.total else f"({rate:,.0f}/s)")
        return " ".join(parts)

    def _draw(self, now: float) -> None:
        self._drawn = now
        end = "" if self._tty else "\n"
        prefix = "\r" if self._tty else ""
        self._stream.write(f"{prefix}{self.line()}{end}")
        self._stream.flush()

    def close(self) -> None:
        self._draw(time.monotonic())
        if self._tty:
            self._stream.write("\n")
        elapsed = time.monotonic() - self._started
        self._stream.write(f"{self.label}: {self.done - self._from:,} in {elapsed:,.1f} s\n")
        self._stream.flush()
