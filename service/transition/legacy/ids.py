"""Legacy ids are Postgres uuids; the service's refs are strings that may be anything id-shaped."""

from __future__ import annotations

import uuid


def as_uuid(ref: str) -> uuid.UUID | None:
    """The uuid `ref` spells in canonical form, else None (a ULID, or a non-canonical spelling
    that DynamoDB would not find either)."""
    try:
        parsed = uuid.UUID(ref)
    except ValueError:
        return None
    return parsed if str(parsed) == ref else None


def new_id() -> str:
    return str(uuid.uuid4())
