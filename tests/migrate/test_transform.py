"""The transform: every legacy row's fields come back unchanged from its items (property
test; whitespace around names, titles and skills included), the copies list pages read agree
with their entities and with the source rows, and rows a model refuses are reported instead
of altered."""

from __future__ import annotations

import dataclasses
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.migrate import rows
from service.migrate.readback import differences
from service.migrate.transform import TransformReport, transform_all
from service.migrate.usermap import UserMap
from service.store.codec import Item
from tests.migrate.decode import by_type, decode

_TEXT = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
SLUG = st.from_regex(r"[a-z0-9]{1,12}(-[a-z0-9]{1,8}){0,2}", fullmatch=True)


def padded(min_size: int, max_size: int) -> st.SearchStrategy[str]:
    # What the models check once stripped (as the API strips it), with whitespace around it
    # sometimes: the table must keep it as the row has it.
    core = st.text(_TEXT, min_size=min_size, max_size=max_size).filter(
        lambda s: s == s.strip() and len(s) >= min_size
    )
    space = st.sampled_from(["", "", " ", "  ", "\t", " \n"])
    return st.tuples(space, core, space).map("".join)


moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)),
                               timezone(timedelta(hours=-7))]),
)  # fmt: skip
ids = st.uuids().map(str)
PERIODS = ["hour", "day", "week", "month", "year", "project"]


@dataclass(frozen=True)
class Data:
    categories: list[rows.Category]
    listings: list[rows.Listing]
    profiles: list[rows.Profile]
    favourites: list[rows.Favorite]

    def tables(self) -> dict[str, list[Any]]:
        return {
            rows.Category.table: self.categories, rows.Listing.table: self.listings,
            rows.Profile.table: self.profiles, rows.Favorite.table: self.favourites,
        }  # fmt: skip


@st.composite
def legacy_data(draw: st.DrawFn) -> Data:
    category_slugs = draw(st.lists(SLUG, min_size=1, max_size=4, unique=True))
    categories = [
        rows.Category(
            id=draw(ids), slug=slug, name=draw(padded(1, 120)),
            description=draw(st.text(_TEXT, max_size=50)),
            sort_order=draw(st.integers(0, 999_999)), created_at=draw(moments),
            updated_at=draw(moments),
        )
        for slug in category_slugs
    ]  # fmt: skip
    listing_slugs = draw(st.lists(SLUG, max_size=6, unique=True))
    listings = []
    for slug in listing_slugs:
        low = draw(st.integers(0, 1_000_000))
        listings.append(rows.Listing(
            id=draw(ids), slug=slug, title=draw(padded(1, 160)),
            summary=draw(st.text(_TEXT, max_size=40)),
            description=draw(st.text(_TEXT, max_size=80)),
            category_id=draw(st.sampled_from(categories)).id,
            location=draw(st.text(_TEXT, max_size=30)), remote=draw(st.booleans()),
            skills=tuple(draw(st.lists(padded(1, 40), max_size=5))),
            income_min=low, income_max=draw(st.integers(low, 100_000_000)),
            income_currency=draw(st.from_regex(r"[A-Z]{3}", fullmatch=True)),
            income_period=draw(st.sampled_from(PERIODS)),
            url=draw(st.none() | st.text(_TEXT, min_size=1, max_size=40)),
            image_url=draw(st.none() | st.text(_TEXT, min_size=1, max_size=40)),
            created_at=draw(moments), updated_at=draw(moments),
        ))  # fmt: skip
    profiles = [
        rows.Profile(
            id=draw(ids), email=draw(st.emails()), display_name=draw(st.text(_TEXT, max_size=30)),
            is_admin=draw(st.booleans()), created_at=draw(moments), updated_at=draw(moments),
        )
        for _ in range(draw(st.integers(0, 5)))
    ]  # fmt: skip
    favourites = []
    if listings and profiles:
        pairs = draw(st.sets(st.tuples(st.sampled_from(profiles), st.sampled_from(listings)),
                             max_size=8))  # fmt: skip
        favourites = [rows.Favorite(p.id, li.id, draw(moments)) for p, li in pairs]
    return Data(categories, listings, profiles, favourites)


def _sub(supabase_id: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, supabase_id))


def _run(data: Data) -> tuple[list[Item], TransformReport]:
    users = UserMap({p.id: _sub(p.id) for p in data.profiles})
    return transform_all(
        users, auth_users=[], profiles=data.profiles, categories=data.categories,
        listings=data.listings, favorites=data.favourites,
    )  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(legacy_data())
def test_every_legacy_row_comes_back_unchanged_from_its_items(data: Data) -> None:
    items, report = _run(data)
    decoded = decode(items, {_sub(p.id): p.id for p in data.profiles})
    for table, legacy_rows in data.tables().items():
        assert sorted(decoded[table], key=repr) == sorted(legacy_rows, key=repr), table
    assert not report.rejected_count


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(legacy_data())
def test_the_copies_pages_read_agree_with_their_entities(data: Data) -> None:
    items, _ = _run(data)
    grouped = by_type(items)
    keys = {(i["PK"], i["SK"]) for i in grouped_items(grouped)}
    assert len(keys) == len(items)  # no two items share a key
    listings = {li["id"]: li for li in grouped["Listing"]}
    counts = Counter(li["categoryId"] for li in listings.values())
    categories = {c["id"]: c for c in grouped["Category"]}
    for entry in grouped["CategoryEntry"]:
        category = categories[entry["id"]]
        assert entry["PK"] == "CATEGORIES"
        assert entry["SK"] == f"{category['sortOrder']:06d}#{category['id']}"
        assert _fields(entry) == _fields(category)
        assert entry["listingCount"] == counts[entry["id"]]
    for copy in grouped["CategoryListing"]:
        listing = listings[copy["id"]]
        assert copy["PK"] == f"CATEGORY#{listing['categoryId']}"
        assert _fields(copy) == _fields(listing)
        category = categories[listing["categoryId"]]
        assert (listing["categorySlug"], listing["categoryName"]) == (
            category["slug"], category["name"],
        )  # fmt: skip
        source = next(c for c in data.categories if c.id == listing["categoryId"])
        assert (copy["categorySlug"], copy["categoryName"]) == (source.slug, source.name)
    assert len(grouped["CategoryListing"]) == len(listings)
    slugs = {m["PK"]: m["targetId"] for m in grouped["SlugMapping"]}
    assert slugs == {
        **{f"SLUG#CATEGORY#{c['slug']}": c["id"] for c in categories.values()},
        **{f"SLUG#LISTING#{li['slug']}": li["id"] for li in listings.values()},
    }
    admins = [p for p in data.profiles if p.is_admin]
    assert sorted(a["sub"] for a in grouped["Admin"]) == sorted(_sub(p.id) for p in admins)
    assert all(a["GSI1PK"] == "ADMINS" for a in grouped["Admin"])
    for favourite in grouped["Favourite"]:
        assert favourite["GSI1PK"] == f"LISTING#{favourite['listingId']}"


def grouped_items(grouped: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [item for kind in grouped.values() for item in kind]


def _fields(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in ("PK", "SK", "type", "GSI1PK", "GSI1SK")}


def test_rows_a_model_refuses_are_reported_not_altered() -> None:
    at = datetime(2024, 1, 1, tzinfo=UTC)
    category = rows.Category(str(uuid.uuid4()), "ok", "Fine", "", 0, at, at)
    long_title = rows.Listing(
        str(uuid.uuid4()), "long", "x" * 161, "", "", category.id, "", False, (), 1, 2, "USD",
        "month", None, None, at, at,
    )  # fmt: skip
    orphan = rows.Listing(
        str(uuid.uuid4()), "orphan", "Orphan", "", "", str(uuid.uuid4()), "", False, (), 1, 2,
        "USD", "month", None, None, at, at,
    )  # fmt: skip
    profile = rows.Profile(str(uuid.uuid4()), "a@example.test", "A", False, at, at)
    favourite = rows.Favorite(profile.id, long_title.id, at)
    items, report = transform_all(
        UserMap({profile.id: "sub-a"}), auth_users=[], profiles=[profile],
        categories=[category], listings=[long_title, orphan], favorites=[favourite],
    )  # fmt: skip
    assert report.rejected_count == {"public.listings": 2, "public.favorites": 1}
    reasons = {r.id: r.reason for r in report.rejected}
    assert "title" in reasons[long_title.id]
    assert "category" in reasons[orphan.id]
    assert "listing" in reasons[f"{profile.id}/{long_title.id}"]
    kinds = Counter(i["type"]["S"] for i in items)
    assert kinds == {"Category": 1, "CategoryEntry": 1, "SlugMapping": 1, "User": 1}
    entry = next(i for i in items if i["type"]["S"] == "CategoryEntry")
    assert entry["listingCount"] == {"N": "0"}  # rejected listings are not counted


def test_unmapped_users_are_left_out_and_counted() -> None:
    at = datetime(2024, 1, 1, tzinfo=UTC)
    category = rows.Category(str(uuid.uuid4()), "c", "C", "", 0, at, at)
    listing = rows.Listing(
        str(uuid.uuid4()), "l", "L", "", "", category.id, "", False, (), 1, 2, "USD", "month",
        None, None, at, at,
    )  # fmt: skip
    mapped, unmapped = (rows.Profile(str(uuid.uuid4()), f"{n}@x.test", n, True, at, at)
                        for n in ("m", "u"))  # fmt: skip
    favourites = [rows.Favorite(p.id, listing.id, at) for p in (mapped, unmapped)]
    items, report = transform_all(
        UserMap({mapped.id: "sub-m"}), auth_users=[], profiles=[mapped, unmapped],
        categories=[category], listings=[listing], favorites=favourites,
    )  # fmt: skip
    assert report.unmapped_count == 1
    assert report.unmapped_users == [unmapped.id]
    assert report.left_out == {"public.profiles": 1, "public.favorites": 1}
    owners = {i["PK"]["S"] for i in items if i["type"]["S"] in ("User", "Admin", "Favourite")}
    assert owners == {"USER#sub-m"}


def test_a_supabase_uuid_is_an_entity_id() -> None:
    from pydantic import TypeAdapter

    from service.models.base import EntityId, is_ref

    legacy_id = str(uuid.uuid4())
    assert TypeAdapter(EntityId).validate_python(legacy_id) == legacy_id
    assert is_ref(legacy_id)


def test_whitespace_is_kept_on_every_item_that_carries_it() -> None:
    at = datetime(2024, 1, 1, tzinfo=UTC)
    category = rows.Category(str(uuid.uuid4()), "design", " Design ", "", 0, at, at)
    gig = rows.Listing(
        str(uuid.uuid4()), "gig", "  Gig ", "", "", category.id, "", False,
        (" writing ", "editing "), 1, 2, "USD", "month", None, None, at, at,
    )  # fmt: skip
    blank = dataclasses.replace(gig, id=str(uuid.uuid4()), slug="blank", title="   ")
    profile = rows.Profile(str(uuid.uuid4()), "a@example.test", " Ann ", False, at, at)
    items, report = transform_all(
        UserMap({profile.id: "sub-a"}), auth_users=[], profiles=[profile],
        categories=[category], listings=[gig, blank], favorites=[],
    )  # fmt: skip
    assert report.rejected_count == {"public.listings": 1}  # a title of spaces is no title
    assert [(r.id, "title" in r.reason) for r in report.rejected] == [(blank.id, True)]
    grouped = by_type(items)
    assert [c["name"] for c in grouped["Category"] + grouped["CategoryEntry"]] == [" Design "] * 2
    for kind in ("Listing", "CategoryListing"):
        (listing,) = grouped[kind]
        assert listing["title"] == "  Gig "
        assert listing["skills"] == [" writing ", "editing "]
        assert listing["categoryName"] == " Design "
    assert [u["displayName"] for u in grouped["User"]] == [" Ann "]


def test_readback_names_each_value_an_item_does_not_keep() -> None:
    at = datetime(2024, 1, 1, 12, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    category = rows.Category(str(uuid.uuid4()), "design", " Design ", "", 0, at, at)
    row = rows.Listing(
        str(uuid.uuid4()), "gig", "  Gig ", "", "", category.id, "", False, (" a ",), 1, 2,
        "USD", "month", "https://example.test/gig", None, at, at,
    )  # fmt: skip
    items, _ = transform_all(
        UserMap({}), auth_users=[], profiles=[], categories=[category], listings=[row],
        favorites=[],
    )  # fmt: skip
    listing = next(i for i in items if i["type"]["S"] == "Listing")
    assert differences(row, [listing], category=category) == []
    trimmed = {
        **listing,
        "title": {"S": "Gig"},
        "skills": {"L": [{"S": "a"}]},
        "categoryName": {"S": "Design"},
    }
    del trimmed["url"]
    found = [(d.column, d.legacy, d.item) for d in differences(row, [trimmed], category=category)]
    assert sorted(found, key=repr) == sorted(
        [
            ("title", "  Gig ", "Gig"),
            ("skills", [" a "], ["a"]),
            ("url", "https://example.test/gig", None),
            ("category.name", " Design ", "Design"),
        ],
        key=repr,
    )
