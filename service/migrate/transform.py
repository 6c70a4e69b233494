"""Legacy rows -> the single table's items, exactly as the service writes them.

Pure: no I/O, the same rows and mapping always give the same items in the same order. Every
item comes from the store's own builders (`category_item`, `entry_item`, `listing_item`,
`listing_copy_item`, `slug_item`, `profile_item`, `admin_item`, `favourite_item`) through the
domain models, so a migrated entity is indistinguishable from one the service created, and a
model that refuses a legacy value (a 200-character title, say) refuses it here too: the row is
*rejected* and reported, never altered to fit.

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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from pydantic import ValidationError

from service.migrate import rows
from service.migrate.usermap import UserMap
from service.models.category import Category
from service.models.listing import IncomePotential, Listing
from service.models.user import UserProfile
from service.store.categories import category_item
from service.store.codec import Item, to_item
from service.store.common import slug_item
from service.store.copies import entry_item, listing_copy_item
from service.store.favourites import favourite_item
from service.store.listings import listing_item
from service.store.users import admin_item, profile_item

GRANTED_BY = "supabase-migration"
MIGRATED_VERSION = 1
MAX_REPORTED = 1_000  # rows listed by id in a report; the counts are always complete


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
    return Category(
        id=row.id, slug=row.slug, name=row.name, description=row.description,
        sort_order=row.sort_order, listing_count=listing_count, version=MIGRATED_VERSION,
        created_at=row.created_at, updated_at=row.updated_at,
    )  # fmt: skip


def listing_model(row: rows.Listing, category: Category) -> Listing:
    return Listing(
        id=row.id, slug=row.slug, title=row.title, summary=row.summary,
        description=row.description, category_id=row.category_id,
        category_slug=category.slug, category_name=category.name, location=row.location,
        remote=row.remote, skills=list(row.skills),
        income_potential=IncomePotential(
            min=row.income_min, max=row.income_max, currency=row.income_currency,
            period=row.income_period,  # validated by the model
        ),
        url=row.url, image_url=row.image_url, version=MIGRATED_VERSION,
        created_at=row.created_at, updated_at=row.updated_at,
    )  # fmt: skip


class Transformer:
    """Holds the catalogue (small: categories and listings) and the user mapping; turns the
    large tables (profiles, favourites) into items row by row as they stream past."""

    def __init__(self, users: UserMap) -> None:
        self.users = users
        self.report = TransformReport()
        self.listing_ids: set[str] = set()
        self._mapped_profiles: set[str] = set()

    def catalogue(
        self, categories: Iterable[rows.Category], listings: Iterable[rows.Listing]
    ) -> Iterator[Item]:
        cats = {row.id: row for row in categories}
        listed = list(listings)
        self.report.rows[rows.Category.table] += len(cats)
        self.report.rows[rows.Listing.table] += len(listed)
        # Validate the categories once without a count, to copy their names onto listings.
        valid: dict[str, Category] = {}
        for cat in cats.values():
            try:
                valid[cat.id] = category_model(cat, 0)
            except ValidationError as exc:
                self.report.reject(rows.Category.table, cat.id, _reason(exc))
        accepted: list[Listing] = []
        for row in listed:
            parent = valid.get(row.category_id)
            if parent is None:
                self.report.reject(rows.Listing.table, row.id, "its category is not migrated")
                continue
            try:
                accepted.append(listing_model(row, parent))
            except ValidationError as exc:
                self.report.reject(rows.Listing.table, row.id, _reason(exc))
        counts = Counter(listing.category_id for listing in accepted)
        for category_id, base in valid.items():
            category = base.model_copy(update={"listing_count": counts[category_id]})
            yield self.report.count(category_item(category))
            yield self.report.count(entry_item(category))
            yield self.report.count(slug_item("CATEGORY", category.slug, category.id))
        for listing in accepted:
            self.listing_ids.add(listing.id)
            yield self.report.count(listing_item(listing, MIGRATED_VERSION))
            yield self.report.count(listing_copy_item(listing, MIGRATED_VERSION))
            yield self.report.count(slug_item("LISTING", listing.slug, listing.id))

    def profile(self, row: rows.Profile) -> list[Item]:
        self.report.rows[rows.Profile.table] += 1
        sub = self.users.sub(row.id)
        if sub is None:
            self.report.unmapped(row.id)
            self.report.left_out[rows.Profile.table] += 1
            return []
        try:
            profile = UserProfile(
                sub=sub, email=row.email, display_name=row.display_name,
                created_at=row.created_at,
            )  # fmt: skip
        except ValidationError as exc:
            self.report.reject(rows.Profile.table, row.id, _reason(exc))
            return []
        self._mapped_profiles.add(row.id)
        provenance = to_item({"supabaseId": row.id, "supabaseUpdatedAt": row.updated_at})
        items = [self.report.count({**profile_item(profile), **provenance})]
        if row.is_admin:
            items.append(self.report.count(admin_item(sub, row.updated_at, GRANTED_BY)))
        return items

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
        return [self.report.count(favourite_item(sub, row.listing_id, row.created_at))]

    def auth_user(self, row: rows.AuthUser) -> None:
        self.report.rows[rows.AuthUser.table] += 1


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
    items = list(transformer.catalogue(categories, listings))
    for profile in profiles:
        items.extend(transformer.profile(profile))
    for favourite in favorites:
        items.extend(transformer.favourite(favourite))
    return items, transformer.report
