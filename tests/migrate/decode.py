"""Items back to legacy rows: the inverse of the transform, written independently of it from
the table's documented layout, so the round-trip test does not check the code with itself."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from service.migrate import rows
from service.store.codec import Item, from_item


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def decode(items: list[Item], subs_to_ids: dict[str, str]) -> dict[str, list[Any]]:
    by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        plain = from_item(item)
        by_type[plain["type"]].append(plain)
    admins = {a["sub"]: a for a in by_type["Admin"]}
    out: dict[str, list[Any]] = defaultdict(list)
    for c in by_type["Category"]:
        out[rows.Category.table].append(rows.Category(
            id=c["id"], slug=c["slug"], name=c["name"], description=c["description"],
            sort_order=c["sortOrder"], created_at=_at(c["createdAt"]),
            updated_at=_at(c["updatedAt"]),
        ))  # fmt: skip
    for li in by_type["Listing"]:
        income = li["incomePotential"]
        out[rows.Listing.table].append(rows.Listing(
            id=li["id"], slug=li["slug"], title=li["title"], summary=li["summary"],
            description=li["description"], category_id=li["categoryId"],
            location=li["location"], remote=li["remote"], skills=tuple(li["skills"]),
            income_min=income["min"], income_max=income["max"],
            income_currency=income["currency"], income_period=income["period"],
            url=li.get("url"), image_url=li.get("imageUrl"), created_at=_at(li["createdAt"]),
            updated_at=_at(li["updatedAt"]),
        ))  # fmt: skip
    for u in by_type["User"]:
        supabase_id = subs_to_ids[u["sub"]]
        assert u["supabaseId"] == supabase_id
        out[rows.Profile.table].append(rows.Profile(
            id=supabase_id, email=u["email"], display_name=u["displayName"],
            is_admin=u["sub"] in admins, created_at=_at(u["createdAt"]),
            updated_at=_at(u["supabaseUpdatedAt"]),
        ))  # fmt: skip
    for f in by_type["Favourite"]:
        sub = f["PK"].removeprefix("USER#")
        out[rows.Favorite.table].append(rows.Favorite(
            user_id=subs_to_ids[sub], listing_id=f["listingId"], created_at=_at(f["savedAt"]),
        ))  # fmt: skip
    return out


def by_type(items: list[Item]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        plain = from_item(item)
        grouped[plain["type"]].append(plain)
    return grouped
