"""Every key string of the single table, in one place.

item              PK                          SK                              GSI1PK / GSI1SK
User profile      USER#<sub>                  METADATA#<sub>
Admin grant       USER#<sub>                  RELATION#ADMIN                  ADMINS / USER#<sub>
Category          CATEGORY#<id>               METADATA#<id>
Category entry    CATEGORIES                  <sortOrder:06d>#<id>
Listing           LISTING#<id>                METADATA#<id>
Category listing  CATEGORY#<categoryId>       LISTING#<createdAt ISO>#<id>
Favourite         USER#<sub>                  RELATION#FAVOURITE#<listingId>  LISTING#<listingId> /
                                                                              FAVOURITE#<sub>
Slug mapping      SLUG#<CATEGORY|LISTING>#<s> METADATA#<slug>
Audit event       AUDIT#<yyyy-mm>             <at ISO>#<eventId>
Cut-off notice    CACHE#CUTOFF                <cache origin>  (service.store.cutoffs)

access pattern                    operation
category / listing by id          GetItem (ConsistentRead when a cache loader asks)
category / listing by slug        GetItem on the slug mapping, then GetItem (both consistent
                                  when asked)
all categories, sorted            Query PK = CATEGORIES, ConsistentRead
listings of a category, newest    Query PK = CATEGORY#<id>, begins_with(SK, LISTING#),
first, paged                      ScanIndexForward=False, ConsistentRead
a user's favourites               Query PK = USER#<sub>, begins_with(SK, RELATION#FAVOURITE#)
who favourited a listing          Query GSI1 LISTING#<id> (cleanup only: eventual is fine)
admin writes                      TransactWriteItems: entity, its copies, slug mappings, audit

Category entries and category listings are copies of their entity in the base table (see
copies.py): public pages are cached, and a loader that runs just after a write's invalidation
must read the write, which a GSI (never strongly consistent) cannot promise.

Audit partitioning: one partition per UTC month. Admin writes are rare (a hot partition is
not a risk) and a month keeps the newest-first walk short: `AuditStore.list` queries the
current month backwards (ScanIndexForward=False) and then earlier months, at most
`AUDIT_LOOKBACK_MONTHS` of them; older events stay in the table but are not listed.

Timestamps in keys use `iso()`: UTC, fixed width, microseconds, so that string order is time
order.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

Key = dict[str, dict[str, str]]
SlugKind = Literal["CATEGORY", "LISTING"]
ItemKind = Literal[
    "User",
    "Admin",
    "Category",
    "CategoryEntry",
    "Listing",
    "CategoryListing",
    "Favourite",
    "SlugMapping",
    "AuditEvent",
]

PK, SK, GSI1PK, GSI1SK = "PK", "SK", "GSI1PK", "GSI1SK"
GSI1 = "GSI1"
TABLE_KEYS = (PK, SK)

CATEGORIES = "CATEGORIES"
CUT_OFF = "CACHE#CUTOFF"
ADMINS = "ADMINS"
FAVOURITE_PREFIX = "RELATION#FAVOURITE#"
ADMIN_SK = "RELATION#ADMIN"
LISTING_PREFIX = "LISTING#"
AUDIT_LOOKBACK_MONTHS = 24
# The migration load tags every item it writes with its batch, so rollback and prune find them.
BATCH_ATTRIBUTE = "migrationBatch"
# The table's TTL attribute (service.store.schema enables it): epoch seconds of an item's expiry.
TTL_ATTRIBUTE = "expiresAt"


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def key(pk: str, sk: str) -> Key:
    return {PK: {"S": pk}, SK: {"S": sk}}


def user(sub: str) -> Key:
    return key(f"USER#{sub}", f"METADATA#{sub}")


def admin(sub: str) -> Key:
    return key(f"USER#{sub}", ADMIN_SK)


def admin_index(sub: str) -> dict[str, str]:
    return {GSI1PK: ADMINS, GSI1SK: f"USER#{sub}"}


def category(category_id: str) -> Key:
    return key(f"CATEGORY#{category_id}", f"METADATA#{category_id}")


def category_entry(sort_order: int, category_id: str) -> Key:
    return key(CATEGORIES, f"{sort_order:06d}#{category_id}")


def listing(listing_id: str) -> Key:
    return key(f"LISTING#{listing_id}", f"METADATA#{listing_id}")


def listings_of(category_id: str) -> str:
    return f"CATEGORY#{category_id}"


def category_listing(category_id: str, created_at: datetime, listing_id: str) -> Key:
    return key(listings_of(category_id), f"{LISTING_PREFIX}{iso(created_at)}#{listing_id}")


def favourites_of(sub: str) -> str:
    return f"USER#{sub}"


def favourite(sub: str, listing_id: str) -> Key:
    return key(favourites_of(sub), f"{FAVOURITE_PREFIX}{listing_id}")


def favourited_by(listing_id: str) -> str:
    return f"LISTING#{listing_id}"


def favourite_index(sub: str, listing_id: str) -> dict[str, str]:
    return {GSI1PK: favourited_by(listing_id), GSI1SK: f"FAVOURITE#{sub}"}


def slug(kind: SlugKind, value: str) -> Key:
    return key(f"SLUG#{kind}#{value}", f"METADATA#{value}")


def audit_partition(at: datetime) -> str:
    return f"AUDIT#{at.astimezone(UTC):%Y-%m}"


def audit(at: datetime, event_id: str) -> Key:
    return key(audit_partition(at), f"{iso(at)}#{event_id}")


def previous_month(partition: str) -> str:
    year, month = (int(part) for part in partition.removeprefix("AUDIT#").split("-"))
    year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return f"AUDIT#{year:04d}-{month:02d}"


def kind_of(pk: str, sk: str) -> ItemKind | None:
    """Which item of the scheme above a key names, from the key alone (None: none of ours).

    The key, not the `type` attribute: an item written outside the service (a console edit, a
    migration) has its key right or it is not found at all, while `type` is only a label.
    """
    head, _, rest = pk.partition("#")
    if pk == CATEGORIES:
        return "CategoryEntry"
    if head == "CATEGORY" and rest:
        if sk == f"METADATA#{rest}":
            return "Category"
        return "CategoryListing" if sk.startswith(LISTING_PREFIX) else None
    if head == "LISTING" and rest and sk == f"METADATA#{rest}":
        return "Listing"
    if head == "USER" and rest:
        if sk == f"METADATA#{rest}":
            return "User"
        if sk == ADMIN_SK:
            return "Admin"
        return "Favourite" if sk.startswith(FAVOURITE_PREFIX) else None
    if head == "SLUG" and rest.partition("#")[0] in ("CATEGORY", "LISTING"):
        return "SlugMapping"
    return "AuditEvent" if head == "AUDIT" else None


def slug_of_mapping(pk: str) -> tuple[SlugKind, str] | None:
    """The kind and slug a slug mapping's PK names (`SLUG#<kind>#<slug>`)."""
    _, kind, value = pk.split("#", 2) if pk.count("#") >= 2 else ("", "", "")
    if kind == "CATEGORY":
        return "CATEGORY", value
    if kind == "LISTING":
        return "LISTING", value
    return None
