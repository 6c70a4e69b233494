"""Deterministic ULIDs: the same seed name always gives the same id, so seeding is idempotent."""

from __future__ import annotations

import hashlib
from datetime import datetime

from ulid import ULID


def stable_ulid(name: str, at: datetime) -> str:
    millis = int(at.timestamp() * 1000).to_bytes(6, "big")
    return str(ULID.from_bytes(millis + hashlib.sha256(name.encode()).digest()[:10]))
