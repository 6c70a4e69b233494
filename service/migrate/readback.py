"""The legacy columns an item carries, read back from the item's attributes alone, and the
differences from the row it was made from.

This is the transform run backwards, written from the table's layout and not from
the transform's code, so the two check each other: the transform refuses a row whose items
would not give back every one of its values exactly (a model that trims a title, say), and
so reports, row by row and field by field, what would otherwise be altered silently. Verify
runs the same transform over the source rows as it reads them, so a table item that matches
its expected item also carries its source row's values.

Values are compared in one canonical form: timestamps as the instant (UTC, microseconds), so
a row read at +05:30 and an item stored in UTC agree; skills as a list; absent links as None.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from service.migrate import rows
from service.store.codec import Item, deserialize

MISSING = "(absent)"
# Columns each item type carries: legacy column -> attribute. "sub" is the Cognito sub the
# mapping gave the row's user; "category.slug" and "category.name" are the listing's
# category's columns, copied onto the listing and its copy.
_CATEGORY = {
    "id": "id", "slug": "slug", "name": "name", "description": "description",
    "sort_order": "sortOrder", "created_at": "createdAt", "updated_at": "updatedAt",
}  # fmt: skip
_LISTING = {
    "id": "id", "slug": "slug", "title": "title", "summary": "summary",
    "description": "description", "category_id": "categoryId", "location": "location",
    "remote": "remote", "skills": "skills", "income_min": "incomePotential.min",
    "income_max": "incomePotential.max", "income_currency": "incomePotential.currency",
    "income_period": "incomePotential.period", "url": "url", "image_url": "imageUrl",
    "created_at": "createdAt", "updated_at": "updatedAt", "category.slug": "categorySlug",
    "category.name": "categoryName",
}  # fmt: skip
CARRIED: dict[str, dict[str, str]] = {
    "Category": _CATEGORY,
    "CategoryEntry": _CATEGORY,
    "Listing": _LISTING,
    "CategoryListing": _LISTING,
    "User": {
        "id": "supabaseId", "sub": "PK", "email": "email", "display_name": "displayName",
        "created_at": "createdAt", "updated_at": "supabaseUpdatedAt",
    },
    "Admin": {"sub": "sub", "updated_at": "grantedAt"},
    "Favourite": {"sub": "PK", "listing_id": "listingId", "created_at": "savedAt"},
    "SlugMapping": {"id": "targetId", "slug": "PK"},
}  # fmt: skip
_OPTIONAL = frozenset({"url", "imageUrl"})  # absent when the row's link is NULL
_TIMES = frozenset({"created_at", "updated_at"})


@dataclass(frozen=True, slots=True)
class Difference:
    item_type: str
    column: str
    legacy: Any
    item: Any

    def text(self) -> str:
        return f"{self.column} {_short(self.legacy)} -> {_short(self.item)} ({self.item_type})"


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 5]}...{text[-4:]}"


def _canonical(column: str, value: Any) -> Any:
    if column in _TIMES:
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if isinstance(value, datetime):
            return value.astimezone(UTC).isoformat(timespec="microseconds")
        return value.value if isinstance(value, rows.Unbounded) else value
    if isinstance(value, tuple):
        return list(value)
    return value


def _attribute(item: Item, path: str) -> Any:
    if path == "PK":  # USER#<sub>, SLUG#<kind>#<slug>
        return str(item["PK"]["S"]).rsplit("#", 1)[-1]
    name, _, inner = path.partition(".")
    if name not in item:
        return None if path in _OPTIONAL else MISSING
    value = deserialize(item[name])
    if inner:
        if not isinstance(value, Mapping) or inner not in value:
            return MISSING
        value = value[inner]
    return value


def carried(item: Item) -> dict[str, Any]:
    """The legacy columns `item` carries, by its type ({} for types that carry none)."""
    attributes = CARRIED.get(str(item.get("type", {}).get("S")), {})
    return {
        column: _canonical(column, _attribute(item, path)) for column, path in attributes.items()
    }


def _legacy(row: rows.Row, column: str, context: Mapping[str, Any]) -> Any:
    value = context[column] if column in context else getattr(row, column)
    return _canonical(column, value)


def differences(
    row: rows.Row,
    items: Sequence[Item],
    *,
    sub: str | None = None,
    category: rows.Category | None = None,
) -> list[Difference]:
    """Every column of `row` that one of `items` would not give back as it is."""
    context: dict[str, Any] = {"sub": sub}
    if category is not None:
        context["category.slug"], context["category.name"] = category.slug, category.name
    found: list[Difference] = []
    for item in items:
        kind = str(item.get("type", {}).get("S"))
        for column, value in carried(item).items():
            legacy = _legacy(row, column, context)
            if value != legacy:
                found.append(Difference(kind, column, legacy, value))
    if isinstance(row, rows.Profile):
        admin = any(item.get("type", {}).get("S") == "Admin" for item in items)
        if admin != row.is_admin:
            found.append(Difference("Admin", "is_admin", row.is_admin, admin))
    return found
