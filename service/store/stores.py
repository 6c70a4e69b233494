"""The five repositories over one Table, built in one place for the composition root.

`categories`, `listings`, `users` and `favourites` are typed by what the use cases need of
them: during the Supabase migration the composition root may put other implementations there
(service.transition).
"""

from __future__ import annotations

from dataclasses import dataclass

from service.config import Settings
from service.store.audit import AuditStore
from service.store.categories import CategoryStore
from service.store.cursor import CursorCodec
from service.store.favourites import FavouriteStore
from service.store.listings import ListingStore
from service.store.repositories import (
    CategoryRepository,
    FavouriteRepository,
    ListingRepository,
    UserRepository,
)
from service.store.rules import DEFAULT_RULES, ItemRules
from service.store.table import Table
from service.store.users import UserStore


@dataclass(frozen=True, slots=True)
class Stores:
    table: Table
    categories: CategoryRepository
    listings: ListingRepository
    users: UserRepository
    favourites: FavouriteRepository
    audit: AuditStore
    # For cursors the use cases sign themselves (in-process pages, service.catalog.category_rows).
    cursors: CursorCodec


def cursor_codec(settings: Settings) -> CursorCodec:
    return CursorCodec(settings.cursor_secret.get_secret_value().encode())


def build_stores(table: Table, cursors: CursorCodec, *, rules: ItemRules = DEFAULT_RULES) -> Stores:
    return Stores(
        table=table,
        categories=CategoryStore(table, cursors, rules=rules),
        listings=ListingStore(table, cursors, rules=rules),
        users=UserStore(table, cursors, rules=rules),
        favourites=FavouriteStore(table, cursors, rules=rules),
        audit=AuditStore(table, cursors, rules=rules),
        cursors=cursors,
    )
