"""Who a verified access token says the caller is."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Principal:
    sub: str
    username: str
    client_id: str
    groups: tuple[str, ...]
    scopes: tuple[str, ...]
