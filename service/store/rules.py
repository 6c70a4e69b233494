"""How this release writes items: the schema version, from what size long text is packed, and
how long time-bound items live (DynamoDB's TTL deletes them once `expiresAt` has passed)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from service.config import Settings
from service.store import packing, versions


@dataclass(frozen=True, slots=True)
class ItemRules:
    write_version: int = versions.CURRENT
    compress_min_bytes: int = packing.MIN_BYTES
    # None: audit events never expire.
    audit_retention: timedelta | None = timedelta(days=730)

    def __post_init__(self) -> None:
        if self.write_version not in versions.ALL:
            raise ValueError(
                f"schema version {self.write_version} is not one this release writes"
                f" ({', '.join(map(str, versions.ALL))})"
            )

    @classmethod
    def from_settings(cls, settings: Settings) -> ItemRules:
        days = settings.audit_retention_days
        return cls(
            write_version=settings.item_schema_write_version or versions.CURRENT,
            compress_min_bytes=settings.item_compress_min_bytes,
            audit_retention=timedelta(days=days) if days else None,
        )

    def packed(self, attributes: Mapping[str, Any]) -> dict[str, Any]:
        """Attributes as this release stores them: long text packed from version 2 on."""
        if self.write_version < 2:
            return dict(attributes)
        return packing.packed(attributes, min_bytes=self.compress_min_bytes)

    def pack(self, value: str) -> str | bytes:
        return (
            value
            if self.write_version < 2
            else packing.pack(value, min_bytes=self.compress_min_bytes)
        )

    def stamp(self) -> dict[str, int]:
        return versions.stamp(self.write_version)

    def audit_expiry(self, at: datetime) -> int | None:
        """`expiresAt` of an audit event made at `at`: epoch seconds, as DynamoDB's TTL reads."""
        if self.audit_retention is None:
            return None
        return int((at + self.audit_retention).timestamp())


DEFAULT_RULES = ItemRules()
