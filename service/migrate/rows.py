"""The legacy rows, one frozen dataclass per table, as every source (Postgres, Supabase's CSV
exports, the export snapshot) hands them to the transform.

Values are plain Python: uuids as strings, timestamps timezone-aware, skills a tuple. The
snapshot (`to_json` / `from_json`) keeps timestamps as ISO strings with microseconds, which
is the precision of Postgres' timestamptz, so nothing is rounded on the way. A timestamptz
of `infinity` or `-infinity` is no point in time: it is read as `Unbounded` (never as
9999-12-31, which is what asyncpg makes of it), and the transform rejects its row.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, TypeVar


class Unbounded(enum.Enum):
    FUTURE = "infinity"
    PAST = "-infinity"


Moment = datetime | Unbounded


@dataclass(frozen=True, slots=True)
class AuthUser:
    table: ClassVar[str] = "auth.users"
    id: str
    email: str
    created_at: Moment


@dataclass(frozen=True, slots=True)
class Profile:
    table: ClassVar[str] = "public.profiles"
    id: str
    email: str
    display_name: str
    is_admin: bool
    created_at: Moment
    updated_at: Moment


@dataclass(frozen=True, slots=True)
class Category:
    table: ClassVar[str] = "public.categories"
    id: str
    slug: str
    name: str
    description: str
    sort_order: int
    created_at: Moment
    updated_at: Moment


@dataclass(frozen=True, slots=True)
class Listing:
    table: ClassVar[str] = "public.listings"
    id: str
    slug: str
    title: str
    summary: str
    description: str
    category_id: str
    location: str
    remote: bool
    skills: tuple[str, ...]
    income_min: int
    income_max: int
    income_currency: str
    income_period: str
    url: str | None
    image_url: str | None
    created_at: Moment
    updated_at: Moment


@dataclass(frozen=True, slots=True)
class Favorite:
    table: ClassVar[str] = "public.favorites"
    user_id: str
    listing_id: str
    created_at: Moment


Row = AuthUser | Profile | Category | Listing | Favorite
R = TypeVar("R", AuthUser, Profile, Category, Listing, Favorite)
# Dependency order: a listing needs its category, a favourite its profile and listing.
ROW_TYPES: tuple[type[Row], ...] = (AuthUser, Profile, Category, Listing, Favorite)


_COLUMNS = {kind: tuple(f.name for f in dataclasses.fields(kind)) for kind in ROW_TYPES}
_TIMES = {kind: tuple(n for n in names if n.endswith("_at")) for kind, names in _COLUMNS.items()}


def columns(row_type: type[Row]) -> tuple[str, ...]:
    return _COLUMNS[row_type]


def unbounded(row: Row) -> list[str]:
    """The columns of `row` that hold no point in time."""
    return [name for name in _TIMES[type(row)] if isinstance(getattr(row, name), Unbounded)]


def at(value: Moment) -> datetime:
    if isinstance(value, Unbounded):
        raise TypeError(f"{value.value} is not a point in time")  # its row is rejected first
    return value


def to_json(row: Row) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in columns(type(row)):
        value = getattr(row, name)
        if isinstance(value, datetime):
            value = value.isoformat(timespec="microseconds")
        elif isinstance(value, Unbounded):
            value = value.value
        elif isinstance(value, tuple):
            value = list(value)
        out[name] = value
    return out


def from_json(row_type: type[R], raw: dict[str, Any]) -> R:
    values: dict[str, Any] = {}
    for field in dataclasses.fields(row_type):
        value = raw[field.name]
        if field.name.endswith("_at"):
            value = moment(value)
        elif field.name == "skills":
            value = tuple(value)
        values[field.name] = value
    return row_type(**values)


def moment(text: str) -> Moment:
    """An ISO timestamp with its offset, or Postgres' `infinity` / `-infinity`."""
    for bound in Unbounded:
        if text == bound.value:
            return bound
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:  # a timestamptz always has one: this is no export of ours
        raise ValueError(f"timestamp without a time zone: {text!r}")
    return value
