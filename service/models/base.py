from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
_SLUG_RE = re.compile(SLUG_PATTERN)
_REF_RE = re.compile(r"^[A-Za-z0-9-]{1,80}$")

Slug = Annotated[str, StringConstraints(min_length=1, max_length=80, pattern=SLUG_PATTERN)]
# Ids are opaque: ULIDs from us, UUIDs from the old Supabase rows. Bounded and key-safe.
EntityId = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")
]
Version = Annotated[int, Field(ge=1)]


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


Timestamp = Annotated[datetime, AfterValidator(_aware)]


def is_ref(ref: str) -> bool:
    """Could `ref` name an entity: an id (ULID, or an old Supabase UUID) or a slug."""
    return _REF_RE.match(ref) is not None


def is_slug(ref: str) -> bool:
    return len(ref) <= 80 and _SLUG_RE.match(ref) is not None


def utcnow() -> datetime:
    return datetime.now(UTC)


class WireModel(BaseModel):
    """camelCase on the wire and in DynamoDB attributes; unknown fields refused."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


class PatchModel(WireModel):
    """A partial update: only the fields the client sent are applied."""

    def changes(self) -> dict[str, object]:
        return self.model_dump(exclude_unset=True)
