"""From the configured phase to the repositories the use cases receive: the one place that
decides, called by the composition root (service.runtime.lifecycle)."""

from __future__ import annotations

from dataclasses import replace

import asyncpg

from service.config import MigrationPhase, MigrationSettings
from service.store.cursor import CursorCodec
from service.store.repositories import (
    CategoryRepository,
    FavouriteRepository,
    ListingRepository,
    UserRepository,
)
from service.store.stores import Stores
from service.store.table import Table
from service.transition.legacy.categories import LegacyCategoryStore
from service.transition.legacy.favourites import LegacyFavouriteStore
from service.transition.legacy.listings import LegacyListingStore
from service.transition.legacy.users import LegacyUserStore
from service.transition.mirror import Mirror
from service.transition.observer import MigrationObserver
from service.transition.outbox import Outbox
from service.transition.replicator import Replicator
from service.transition.shadow import DualReadCategories, DualReadListings, ShadowReader
from service.transition.shadow_users import DualReadFavourites, DualReadUsers


def replicator(
    pool: asyncpg.Pool, table: Table, settings: MigrationSettings, observer: MigrationObserver
) -> Replicator:
    box = Outbox(
        pool,
        retry_base_s=settings.retry_base_s,
        retry_cap_s=settings.retry_cap_s,
        max_attempts=settings.max_attempts,
    )
    return Replicator(
        box, Mirror(pool, table), observer=observer, push_timeout_s=settings.push_timeout_s
    )


def phase_stores(
    phase: MigrationPhase,
    dynamodb: Stores,
    *,
    pool: asyncpg.Pool,
    replication: Replicator,
    cursors: CursorCodec,
    observer: MigrationObserver,
    shadow_timeout_s: float,
) -> Stores:
    """`dynamodb` with the repositories the legacy Postgres holds (categories, listings, users
    and favourites) replaced as `phase` says. The audit log is read from DynamoDB in every
    phase; the legacy stores' events reach it through the outbox
    (service.transition.legacy.audit)."""
    legacy_categories = LegacyCategoryStore(pool, replication, cursors)
    legacy_listings = LegacyListingStore(pool, replication, cursors)
    legacy_users = LegacyUserStore(pool, replication, cursors)
    legacy_favourites = LegacyFavouriteStore(pool, replication, cursors)
    categories: CategoryRepository = legacy_categories
    listings: ListingRepository = legacy_listings
    users: UserRepository = legacy_users
    favourites: FavouriteRepository = legacy_favourites
    if phase == "dual-read":
        shadow = ShadowReader(replication.outbox, observer, shadow_timeout_s=shadow_timeout_s)
        categories = DualReadCategories(dynamodb.categories, legacy_categories, shadow)
        listings = DualReadListings(dynamodb.listings, legacy_listings, shadow)
        users = DualReadUsers(dynamodb.users, legacy_users, shadow)
        favourites = DualReadFavourites(dynamodb.favourites, legacy_favourites, shadow)
    elif phase != "dual-write":
        raise ValueError(f"phase {phase} uses no legacy stores")
    return replace(
        dynamodb, categories=categories, listings=listings, users=users, favourites=favourites
    )
