"""Local per-tag generations: the in-process half of the stale-set guard.

A fill takes `mark()` BEFORE it reads Redis or runs the loader. An invalidation (local, or
received from another instance) stamps each tag with a new sequence number. A fill may store
into memory only if none of its tags was stamped after its mark (`moved`). The check and the
store run with no await between them, so on one event loop they are atomic.

The tag map is bounded: past `max_tags` it is dropped and the floor raised to the current
sequence, which counts as "every tag moved" for fills in flight. That refuses a few extra
stores, never lets a stale one through.
"""

from __future__ import annotations

from collections.abc import Iterable


class TagGenerations:
    __slots__ = ("_floor", "_max_tags", "_seq", "_stamps")

    def __init__(self, *, max_tags: int = 100_000) -> None:
        self._seq = 0
        self._floor = 0  # every tag counts as stamped at least at this sequence
        self._stamps: dict[str, int] = {}
        self._max_tags = max_tags

    def mark(self) -> int:
        return self._seq

    def bump(self, tags: Iterable[str]) -> None:
        self._seq += 1
        if len(self._stamps) >= self._max_tags:
            self._stamps.clear()
            self._floor = self._seq
            return
        for tag in tags:
            self._stamps[tag] = self._seq

    def bump_all(self) -> None:
        self._seq += 1
        self._stamps.clear()
        self._floor = self._seq

    def moved(self, tags: Iterable[str], since: int) -> bool:
        if self._floor > since:
            return True
        stamps = self._stamps
        return any(stamps.get(tag, 0) > since for tag in tags)
