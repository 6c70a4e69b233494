"""Keeping label values in bounded sets: every distinct value is a new time series."""

from __future__ import annotations

from collections.abc import Set

OTHER = "other"


def clamp(value: str | None, allowed: Set[str]) -> str:
    """`value` if it is one of `allowed`, else "other"."""
    return value if value is not None and value in allowed else OTHER
