"""The migration's items with long descriptions: packed by the store's builders, they go
through the work files (JSON lines, binary as base64) and verify compares them as content."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from service.migrate.verify import content_hash
from service.migrate.workdir import WorkDir, read_items
from service.models.listing import IncomePotential, Listing
from service.store.codec import to_json
from service.store.listings import listing_item
from service.store.rules import ItemRules

LONG = "Mentor first-time founders through their first pitch deck, one evening a week. " * 40


def listing() -> Listing:
    now = datetime(2026, 12, 3, tzinfo=UTC)
    return Listing(
        id="0190e7c2-8f1b-7a3d-9c4e-1f2a3b4c5d6e",
        slug="mentor-founders",
        title="Mentor founders",
        description=LONG,
        category_id="c1",
        category_slug="business",
        category_name="Business",
        income_potential=IncomePotential(min=0, max=100),
        version=1,
        created_at=now,
        updated_at=now,
    )


def test_a_packed_item_survives_the_work_file(tmp_path: Path) -> None:
    item = listing_item(listing(), 1)
    assert set(item["description"]) == {"B"}
    work = WorkDir(tmp_path)
    work.items.write_text(json.dumps(to_json(item)) + "\n")
    (read,) = read_items(work)
    assert read == item


def test_verify_compares_what_items_say_not_how_they_are_stored() -> None:
    packed = listing_item(listing(), 1)
    plain = listing_item(listing(), 1, ItemRules(write_version=1))
    assert set(plain["description"]) == {"S"}
    assert content_hash(packed) == content_hash(plain)
    other = listing_item(listing().model_copy(update={"description": LONG + "!"}), 1)
    assert content_hash(other) != content_hash(packed)
