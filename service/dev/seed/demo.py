"""The demo data set: twelve categories and a few hundred listings, generated deterministically.

Idempotent: ids, slugs and timestamps derive from fixed seeds, an entity is written only while
its slug mapping is absent (so an admin's edits to a demo item survive a re-seed, and a slug an
admin took for something else is left alone), a listing is written together with its copy in
its category's partition, and each demo category's listingCount is then recounted from those
copies rather than incremented, and written to the category and its CATEGORIES entry alike.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from service.dev.seed.ids import stable_ulid
from service.dev.seed.words import ADJECTIVES, AUDIENCES, CITIES, CURRENCIES, THEMES
from service.models.category import Category
from service.models.listing import IncomePotential, Listing
from service.store import keys
from service.store.batch import batch_get, batch_write, put_request
from service.store.categories import category_item
from service.store.codec import Item, load
from service.store.common import slug_item
from service.store.copies import entry_item, listing_copy_item
from service.store.listings import listing_item
from service.store.stores import Stores
from service.store.table import ConditionFailed, Table

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
DEMO_LISTINGS = 400


@dataclass(frozen=True, slots=True)
class SeedReport:
    categories_written: int
    listings_written: int
    skipped_slugs: int  # taken by something that is not the demo item


def demo_categories() -> list[Category]:
    return [
        Category(
            id=stable_ulid(f"demo:category:{theme.slug}", EPOCH),
            slug=theme.slug,
            name=theme.name,
            description=theme.description,
            sort_order=(index + 1) * 10,
            listing_count=0,
            version=1,
            created_at=EPOCH,
            updated_at=EPOCH,
        )
        for index, theme in enumerate(THEMES)
    ]


def demo_listing(index: int, categories: list[Category]) -> Listing:
    rng = random.Random(index)  # one seed per listing: the same listing every run
    theme_index = index % len(THEMES)
    theme, category = THEMES[theme_index], categories[theme_index]
    role, audience = rng.choice(theme.roles), rng.choice(AUDIENCES)
    adjective, city = rng.choice(ADJECTIVES), rng.choice(CITIES)
    title = f"{adjective} {_lower_first(role)} for {audience}"
    low, high, period = theme.income
    floor = rng.randint(low, (low + high) // 2)
    created = EPOCH + timedelta(hours=index * 7, minutes=rng.randint(0, 59))
    slug = "-".join(f"{title} {index:04d}".lower().replace(",", "").split())
    return Listing(
        id=stable_ulid(f"demo:listing:{index}", created),
        slug=slug,
        title=title,
        summary=f"{role} work for {audience}, {'remote' if index % 3 else 'based in ' + city}.",
        description=(
            f"Help {audience} as a {_lower_first(role)}. Set your own hours; most people start "
            f"with one or two clients and grow by referral. Useful: {', '.join(theme.skills[:3])}."
        ),
        category_id=category.id,
        category_slug=category.slug,
        category_name=category.name,
        location="Remote" if index % 3 else city,
        remote=index % 3 != 0,
        skills=rng.sample(theme.skills, k=min(3, len(theme.skills))),
        income_potential=IncomePotential(
            min=floor,
            max=rng.randint(floor, high),
            currency=CURRENCIES[city.rsplit(", ", 1)[1]],
            period=period,
        ),
        version=1,
        created_at=created,
        updated_at=created,
    )


def _lower_first(phrase: str) -> str:
    # "Dog walker" -> "dog walker", but "WordPress developer" keeps its brand capitals.
    first, _, rest = phrase.partition(" ")
    first = first if any(ch.isupper() for ch in first[1:]) else first.lower()
    return f"{first} {rest}".strip()


async def seed_demo(target: Stores | Table, *, listings: int = DEMO_LISTINGS) -> SeedReport:
    table = target.table if isinstance(target, Stores) else target
    categories = demo_categories()
    demo = [demo_listing(i, categories) for i in range(listings)]
    # The CATEGORIES entries are written by `recount`, once the count is known.
    cat_items, skipped_c = await _missing(
        table, "CATEGORY", [(c.slug, c.id, [category_item(c)]) for c in categories]
    )
    list_items, skipped_l = await _missing(
        table,
        "LISTING",
        [(i.slug, i.id, [listing_item(i, 1), listing_copy_item(i, 1)]) for i in demo],
    )
    skipped = skipped_c + skipped_l
    await batch_write(table, [put_request(item) for item in cat_items + list_items])
    for category in categories:
        await recount(table, category.id)
    return SeedReport(len(cat_items) // 2, len(list_items) // 3, skipped)


async def _missing(
    table: Table, kind: keys.SlugKind, entities: list[tuple[str, str, list[Item]]]
) -> tuple[list[Item], int]:
    """Entity items and slug mappings for the entities whose slug is not yet mapped."""
    found = await batch_get(table, [keys.slug(kind, slug) for slug, _, _ in entities])
    mapped = {item[keys.PK]["S"]: item["targetId"]["S"] for item in found}
    items: list[Item] = []
    skipped = 0
    for slug, entity_id, entity_items in entities:
        target = mapped.get(keys.slug(kind, slug)[keys.PK]["S"])
        if target is None:
            items += [*entity_items, slug_item(kind, slug, entity_id)]
        elif target != entity_id:
            skipped += 1
    return items, skipped


async def recount(table: Table, category_id: str) -> int:
    """Set listingCount from the category's listing copies, on the category and its entry."""
    count = 0
    start: dict[str, Any] | None = None
    for _ in range(10_000):
        query: dict[str, Any] = {
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "ExpressionAttributeValues": {
                ":pk": {"S": keys.listings_of(category_id)},
                ":prefix": {"S": keys.LISTING_PREFIX},
            },
            "Select": "COUNT",
            "ConsistentRead": True,
        }
        if start is not None:
            query["ExclusiveStartKey"] = start
        response = await table.call("Query", **query)
        count += int(response.get("Count", 0))
        start = response.get("LastEvaluatedKey")
        if start is None:
            break
    try:
        response = await table.call(
            "UpdateItem",
            Key=keys.category(category_id),
            UpdateExpression="SET listingCount = :n",
            ConditionExpression="attribute_exists(PK)",
            ExpressionAttributeValues={":n": {"N": str(count)}},
            ReturnValues="ALL_NEW",
        )
    except ConditionFailed:
        return 0  # the category is not there (its slug was taken): nothing to count on
    # The entry is rebuilt from the category as it now is (an admin may have edited it).
    await table.call("PutItem", Item=entry_item(load(Category, response["Attributes"])))
    return count
