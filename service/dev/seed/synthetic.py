"""The load-test data set: many users, listings and favourites, written with BatchWriteItem.

Ids are derived from indexes (`syn-user-000042`), so a re-run overwrites rather than
duplicates, and listingCount is computed here from the same round-robin that places listings.
Categories and listings are written with their list copies (copies.py), which the public
pages read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from service.models.category import Category
from service.models.listing import IncomePotential, Listing
from service.models.user import UserProfile
from service.store.batch import WRITE_CHUNK, batch_write, put_request
from service.store.categories import category_item
from service.store.codec import Item
from service.store.common import slug_item
from service.store.copies import entry_item, listing_copy_item
from service.store.favourites import favourite_item
from service.store.listings import listing_item
from service.store.table import Table
from service.store.users import profile_item

Progress = Callable[[str, int, int], None]
EPOCH = datetime(2024, 6, 1, tzinfo=UTC)
CONCURRENCY = 8


def _category(index: int, count: int) -> Category:
    return Category(
        id=f"syn-cat-{index:04d}", slug=f"syn-category-{index:04d}", name=f"Category {index:04d}",
        sort_order=index, listing_count=count, version=1, created_at=EPOCH, updated_at=EPOCH,
    )  # fmt: skip


def _listing(index: int, category: Category) -> Listing:
    at = EPOCH + timedelta(minutes=index)
    return Listing(
        id=f"syn-listing-{index:06d}", slug=f"syn-listing-{index:06d}",
        title=f"Synthetic listing {index}", summary="Generated for load tests.",
        category_id=category.id, category_slug=category.slug, category_name=category.name,
        location="Remote", remote=True, skills=["testing"],
        income_potential=IncomePotential(min=10, max=100 + index % 900),
        version=1, created_at=at, updated_at=at,
    )  # fmt: skip


def _category_items(categories: int, listings: int) -> Iterator[Item]:
    for c in range(categories):
        category = _category(c, len(range(c, listings, categories)))
        yield category_item(category)
        yield entry_item(category)
        yield slug_item("CATEGORY", category.slug, category.id)


def _listing_items(categories: int, listings: int) -> Iterator[Item]:
    cats = [_category(c, 0) for c in range(categories)]
    for i in range(listings):
        listing = _listing(i, cats[i % categories])
        yield listing_item(listing, 1)
        yield listing_copy_item(listing, 1)
        yield slug_item("LISTING", listing.slug, listing.id)


def _user_items(users: int, listings: int, per_user: int) -> Iterator[Item]:
    for u in range(users):
        sub = f"syn-user-{u:06d}"
        yield profile_item(
            UserProfile(sub=sub, email=f"{sub}@example.test", display_name=sub, created_at=EPOCH)
        )
        for j in range(min(per_user, listings)):
            yield favourite_item(sub, f"syn-listing-{(u * 7 + j) % listings:06d}", EPOCH)


async def seed_synthetic(
    table: Table,
    *,
    users: int,
    listings: int,
    categories: int,
    favourites_per_user: int,
    progress: Progress,
) -> None:
    if categories < 1 and listings > 0:
        raise ValueError("listings need at least one category")
    phases: list[tuple[str, int, Iterator[Item]]] = [
        ("categories", categories * 3, _category_items(categories, listings)),
        ("listings", listings * 3, _listing_items(categories, listings)),
        (
            "users",
            users * (1 + min(favourites_per_user, listings)),
            _user_items(users, listings, favourites_per_user),
        ),
    ]
    for phase, total, items in phases:
        await _write_all(table, phase, total, items, progress)


async def _write_all(
    table: Table, phase: str, total: int, items: Iterator[Item], progress: Progress
) -> None:
    done = 0
    progress(phase, 0, total)
    while True:
        # A window of CONCURRENCY chunks at a time: bounded memory and bounded parallelism.
        window: list[list[dict[str, Any]]] = []
        for _ in range(CONCURRENCY):
            chunk = [put_request(item) for _, item in zip(range(WRITE_CHUNK), items, strict=False)]
            if not chunk:
                break
            window.append(chunk)
        if not window:
            return
        await asyncio.gather(*(batch_write(table, chunk) for chunk in window))
        done += sum(len(chunk) for chunk in window)
        progress(phase, done, total)
