"""Legacy rows -> the single table's items, exactly as the service writes them.

Pure: no I/O, the same rows and mapping always give the same items in the same order. Every
item comes from the store's own builders (`category_item`, `entry_item`, `listing_item`,
`listing_copy_item`, `slug_item`, `profile_item`, `admin_item`, `favourite_item`) through the
domain models, so a migrated entity is indistinguishable from one the service created, and a
model that refuses a legacy value (a 200-character title, say) refuses it here too: the row is
*rejected* and reported, never altered to fit.

Values are kept as they are. The models strip the whitespace around names, titles and skills
(as the API strips what it is sent); the transform checks the stripped value against the
model's rules but stores the row's own, so " Design " stays " Design " in the table, on the
category and on every listing that copies its name. Every row's items are then read back
(readback.py, written independently) and a row whose items would not give back each of its
values exactly is rejected with the fields named, so nothing is ever altered silently.

A row is also rejected, named like every other, when one of its items would pass DynamoDB's
item size limit once tagged with a batch (`ITEM_BUDGET_BYTES`), or when a timestamp of it is
`infinity` or `-infinity`, which no item can hold as a time.

What each legacy row becomes:
- a category: its item (listingCount = its accepted listings), its CATEGORIES entry, its slug
  mapping; version 1.
- a listing: its item and its copy in its category's partition (both carrying the category's
  slug and name, categoryVersion 1), its slug mapping; version 1.
- a profile: the user item under the Cognito sub, plus `supabaseId` and `supabaseUpdatedAt`
  (the service's profile has no place for either; reads ignore them); an admin grant when
  `is_admin`, granted at the profile's `updated_at` by `GRANTED_BY`.
- a favourite: the service's favourite item (savedAt = created_at). The service keeps no
  listing summary on it (pages read the listings, so a summary is never stale), so neither
  does the migration.
- an auth.users row: nothing in the table (Cognito holds identities now); it is the source of
  the email the Cognito mapping matches on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial

from pydantic import ValidationError

from service.migrate import readback, rows
from service.migrate.rows import at
from service.migrate.usermap import UserMap
from service.models.category import Category
from service.models.listing import IncomePotential, Listing
from service.models.user import UserProfile
from service.store.categories import category_item
from service.store.codec import ITEM_LIMIT_BYTES, Item, fits, item_size, to_item
from service.store.common import slug_item
from service.store.copies import entry_item, listing_copy_item
from service.store.favourites import favourite_item
from service.store.keys import BATCH_ATTRIBUTE
from service.store.listings import listing_item
from service.store.users import admin_item, profile_item

GRANTED_BY = "supabase-migration"
MIGRATED_VERSION = 1
MAX_REPORTED = 1_000  # rows listed by id in a report; the counts are always complete
# The load adds the batch tag to every item: room is kept for the longest batch id it takes.
MAX_BATCH_BYTES = 100
ITEM_BUDGET_BYTES = ITEM_LIMIT_BYTES - len(BATCH_ATTRIBUTE) - MAX_BATCH_BYTES


@dataclass(frozen=True, slots=True)
class Rejected:
    table: str
    id: str
    reason: str


@dataclass
class TransformReport:
    rows: Counter[str] = field(default_factory=Counter)
    items: Counter[str] = field(default_factory=Counter)
    unmapped_users: list[str] = field(default_factory=list)
    unmapped_count: int = 0
    # What was left out because its owner is unmapped, by legacy table.
    left_out: Counter[str] = field(default_factory=Counter)
    rejected: list[Rejected] = field(default_factory=list)
    rejected_count: Counter[str] = field(default_factory=Counter)

    def count(self, item: Item) -> Item:
        self.items[item["type"]["S"]] += 1
        return item

    def reject(self, table: str, row_id: str, reason: str) -> None:
        self.rejected_count[table] += 1
        if len(self.rejected) < MAX_REPORTED:
            self.rejected.append(Rejected(table, row_id, reason))

    def unmapped(self, supabase_id: str) -> None:
        self.unmapped_count += 1
        if len(self.unmapped_users) < MAX_REPORTED:
            self.unmapped_users.append(supabase_id)


def _reason(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
    )


def category_model(row: rows.Category, listing_count: int) -> Category:
    """The row's category, checked by the model; its name kept as the row has it."""
    checked = Category(
        id=row.id, slug=row.slug, name=row.name, description=row.description,
        sort_order=row.sort_order, listing_count=listing_count, version=MIGRATED_VERSION,
        created_at=at(row.created_at), updated_at=at(row.updated_at),
    )  # fmt: skip
    return checked.model_copy(update={"name": row.name})


def listing_model(row: rows.Listing, category: rows.Category) -> Listing:
    """The row's listing, checked by the model; its title and skills kept as the row has
    them, and its category's slug and name as the category's row has them."""
    checked = Listing(
        id=row.id, slug=row.slug, title=row.title, summary=row.summary,
        description=row.description, category_id=row.category_id,
        category_slug=category.slug, category_name=category.name, location=row.location,
        remote=row.remote, skills=list(row.skills),
        income_potential=IncomePotential(
            min=row.income_min, max=row.income_max, currency=row.income_currency,
            period=row.income_period,  # validated by the model
        ),
        url=row.url, image_url=row.image_url, version=MIGRATED_VERSION,
        created_at=at(row.created_at), updated_at=at(row.updated_at),
    )  # fmt: skip
    return checked.model_copy(update={"title": row.title, "skills": list(row.skills)})


def profile_model(row: rows.Profile, sub: str) -> UserProfile:
    checked = UserProfile(
        sub=sub, email=row.email, display_name=row.display_name, created_at=at(row.created_at)
    )
    return checked.model_copy(update={"email": row.email, "display_name": row.display_name})


class Transformer:
    """Holds the catalogue (small: categories and listings) and the user mapping; turns the
    large tables (profiles, favourites) into items row by row as they stream past."""

    def __init__(self, users: UserMap) -> None:
        self.users = users
        self.report = TransformReport()
        self.listing_ids: set[str] = set()
        self._mapped_profiles: set[str] = set()

    def _accept(
        self,
        table: str,
        row_id: str,
        row: rows.Row,
        build: Callable[[], list[Item]],
        *,
        sub: str | None = None,
        category: rows.Category | None = None,
    ) -> list[Item] | None:
        """The row's items, or None with the row rejected: a model refuses it, a timestamp
        is no point in time, an item would be too large, or a value would not be kept."""
        unbounded = rows.unbounded(row)
        if unbounded:
            reasons = (
                f"{name}: {getattr(row, name).value} is not a point in time" for name in unbounded
            )
            self.report.reject(table, row_id, "; ".join(reasons))
            return None
        try:
            items = build()
        except ValidationError as exc:
            self.report.reject(table, row_id, _reason(exc))
            return None
        for item in items:
            if not fits(item, ITEM_BUDGET_BYTES):
                size = item_size(item)
                self.report.reject(
                    table, row_id,
                    f"its {item['type']['S']} item would be {size:,} bytes, past DynamoDB's "
                    f"{ITEM_LIMIT_BYTES:,}-byte item limit (with room for the batch tag: "
                    f"{ITEM_BUDGET_BYTES:,})",
                )  # fmt: skip
                return None
        altered = readback.differences(row, items, sub=sub, category=category)
        if altered:
            kept = "; ".join(d.text() for d in altered)
            self.report.reject(table, row_id, f"its items would not keep its values: {kept}")
            return None
        return items

    def catalogue(
        self, categories: Iterable[rows.Category], listings: Iterable[rows.Listing]
    ) -> Iterator[tuple[rows.Row, list[Item]]]:
        """Each accepted category and listing with its items."""
        cats = {row.id: row for row in categories}
        listed = list(listings)
        self.report.rows[rows.Category.table] += len(cats)
        self.report.rows[rows.Listing.table] += len(listed)
        # Categories are accepted first, to copy their names onto listings; their items are
        # sized with the most listings they could count, which only errs on the safe side.
        at_most = Counter(row.category_id for row in listed)
        valid: dict[str, Category] = {}
        for cat in cats.values():
            build = partial(_category_items, cat, at_most[cat.id])
            if self._accept(rows.Category.table, cat.id, cat, build):
                valid[cat.id] = category_model(cat, 0)
        accepted: list[tuple[rows.Listing, list[Item]]] = []
        for row in listed:
            if row.category_id not in valid:
                self.report.reject(rows.Listing.table, row.id, "its category is not migrated")
                continue
            parent = cats[row.category_id]
            build = partial(_listing_items, row, parent)
            items = self._accept(rows.Listing.table, row.id, row, build, category=parent)
            if items is not None:
                accepted.append((row, items))
        counts = Counter(row.category_id for row, _ in accepted)
        for category_id, base in valid.items():
            category = base.model_copy(update={"listing_count": counts[category_id]})
            yield cats[category_id], [self.report.count(i) for i in _items_of(category)]
        for row, items in accepted:
            self.listing_ids.add(row.id)
            yield row, [self.report.count(i) for i in items]

    def profile(self, row: rows.Profile) -> list[Item]:
        self.report.rows[rows.Profile.table] += 1
        sub = self.users.sub(row.id)
        if sub is None:
            self.report.unmapped(row.id)
            self.report.left_out[rows.Profile.table] += 1
            return []

        def build() -> list[Item]:
            profile = profile_model(row, sub)
            provenance = to_item({"supabaseId": row.id, "supabaseUpdatedAt": at(row.updated_at)})
            items = [{**profile_item(profile), **provenance}]
            if row.is_admin:
                items.append(admin_item(sub, at(row.updated_at), GRANTED_BY))
            return items

        items = self._accept(rows.Profile.table, row.id, row, build, sub=sub)
        if items is None:
            return []
        self._mapped_profiles.add(row.id)
        return [self.report.count(item) for item in items]

    def favourite(self, row: rows.Favorite) -> list[Item]:
        self.report.rows[rows.Favorite.table] += 1
        sub = self.users.sub(row.user_id)
        if sub is None:
            self.report.left_out[rows.Favorite.table] += 1
            return []
        if row.user_id not in self._mapped_profiles:
            self.report.reject(
                rows.Favorite.table, _favourite_id(row), "its profile is not migrated"
            )
            return []
        if row.listing_id not in self.listing_ids:
            self.report.reject(
                rows.Favorite.table, _favourite_id(row), "its listing is not migrated"
            )
            return []
        items = self._accept(
            rows.Favorite.table, _favourite_id(row), row,
            lambda: [favourite_item(sub, row.listing_id, at(row.created_at))], sub=sub,
        )  # fmt: skip
        return [self.report.count(item) for item in items or []]

    def auth_user(self, row: rows.AuthUser) -> None:
        self.report.rows[rows.AuthUser.table] += 1


def _items_of(category: Category) -> list[Item]:
    return [
        category_item(category),
        entry_item(category),
        slug_item("CATEGORY", category.slug, category.id),
    ]


def _category_items(row: rows.Category, listing_count: int) -> list[Item]:
    return _items_of(category_model(row, listing_count))


def _listing_items(row: rows.Listing, category: rows.Category) -> list[Item]:
    listing = listing_model(row, category)
    return [
        listing_item(listing, MIGRATED_VERSION),
        listing_copy_item(listing, MIGRATED_VERSION),
        slug_item("LISTING", listing.slug, listing.id),
    ]


def _favourite_id(row: rows.Favorite) -> str:
    return f"{row.user_id}/{row.listing_id}"


def transform_all(
    users: UserMap,
    *,
    auth_users: Iterable[rows.AuthUser],
    profiles: Iterable[rows.Profile],
    categories: Iterable[rows.Category],
    listings: Iterable[rows.Listing],
    favorites: Iterable[rows.Favorite],
) -> tuple[list[Item], TransformReport]:
    """Everything in memory at once: for tests and small data sets."""
    transformer = Transformer(users)
    for auth_user in auth_users:
        transformer.auth_user(auth_user)
    items = [
        item for _, row_items in transformer.catalogue(categories, listings) for item in row_items
    ]
    for profile in profiles:
        items.extend(transformer.profile(profile))
    for favourite in favorites:
        items.extend(transformer.favourite(favourite))
    return items, transformer.report
