from __future__ import annotations

from collections import Counter

import pytest

from service.dev.seed.demo import DEMO_LISTINGS, demo_categories, seed_demo
from service.dev.seed.synthetic import seed_synthetic
from service.store.stores import Stores

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_seed_demo_is_idempotent(stores: Stores) -> None:
    first = await seed_demo(stores)
    assert (first.categories_written, first.listings_written) == (12, DEMO_LISTINGS)
    second = await seed_demo(stores)
    assert (second.categories_written, second.listings_written, second.skipped_slugs) == (0, 0, 0)

    counts: Counter[str] = Counter()
    entries = {c.id: c for c in await stores.categories.list_all()}
    for expected in demo_categories():
        category = await stores.categories.get_by_slug(expected.slug)
        cursor, seen = None, []
        for _ in range(5):
            page = await stores.listings.list_by_category(category.id, limit=100, cursor=cursor)
            seen.extend(page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
        assert len({item.id for item in seen}) == len(seen) == category.listing_count
        assert entries[category.id] == category  # the CATEGORIES entry, count included
        counts[category.slug] = len(seen)
    assert sum(counts.values()) == DEMO_LISTINGS
    assert min(counts.values()) >= DEMO_LISTINGS // 12
    sample = await stores.listings.get_by_slug(seen[0].slug)
    assert sample.income_potential.min <= sample.income_potential.max
    assert sample.skills
    assert sample.summary


async def test_seed_synthetic_counts_and_favourites(stores: Stores) -> None:
    reported: list[tuple[str, int, int]] = []
    for _ in range(2):  # a re-run overwrites: same counts, no duplicates
        await seed_synthetic(
            stores.table, users=20, listings=30, categories=4, favourites_per_user=2,
            progress=lambda phase, done, total: reported.append((phase, done, total)),
        )  # fmt: skip
    finals = {phase: (done, total) for phase, done, total in reported}
    # Each category and listing is three items: the entity, its list copy, its slug mapping.
    assert finals == {"categories": (12, 12), "listings": (90, 90), "users": (60, 60)}
    category = await stores.categories.get_by_slug("syn-category-0001")
    page = await stores.listings.list_by_category(category.id, limit=100, cursor=None)
    assert category.listing_count == len(page.items) == 8  # 30 round-robin over 4 -> 8,8,7,7
    entries = {c.slug: c for c in await stores.categories.list_all()}
    assert [entries[f"syn-category-{i:04d}"].listing_count for i in range(4)] == [8, 8, 7, 7]
    assert entries[category.slug] == category
    favourites = await stores.favourites.list("syn-user-000003", limit=10, cursor=None)
    assert len(favourites.items) == 2
