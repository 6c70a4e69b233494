"""Fill the legacy schema with a realistic data set at the guide's scale, fast.

Rows are made from a seeded `random.Random` (the same seed gives the same rows, ids included)
and written with COPY (`copy_records_to_table`) in chunks, in dependency order. Categories are
the demo themes, then numbered variants past twelve; listings are spread over the categories
unevenly (a few big ones, a long tail), as a directory's are; favourites are distinct
(user, listing) pairs; about one profile in a thousand is an admin.

Synthetic rows never mix with real ones: `generate` refuses a database whose legacy tables
hold any row (and the CLI refuses the database HUSTLEHUB_MIGRATE_DSN names), before it
applies the schema or writes anything.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

from service.dev.seed.words import ADJECTIVES, AUDIENCES, CITIES, CURRENCIES, THEMES
from service.migrate.errors import Refused

CHUNK = 10_000
EPOCH = datetime(2023, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=700)
TABLES = (
    "auth.users",
    "public.profiles",
    "public.categories",
    "public.listings",
    "public.favorites",
)
_FIRST = ("Alex", "Sam", "Priya", "Jordan", "Maria", "Wei", "Aisha", "Tom", "Lena", "Kofi")
_LAST = ("Smith", "Patel", "Garcia", "Chen", "Okafor", "Novak", "Silva", "Murphy", "Kim")


@dataclass(frozen=True, slots=True)
class Scale:
    users: int = 100_000
    listings: int = 1_000
    categories: int = 40
    favourites: int = 300_000
    seed: int = 1

    @property
    def rows(self) -> int:
        """Rows `generate` writes: a user is an auth.users and a public.profiles row."""
        return self.users * 2 + self.categories + self.listings + self.favourites


def legacy_schema() -> str:
    return resources.files("service.migrate").joinpath("legacy.sql").read_text()


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _at(rng: random.Random) -> datetime:
    return EPOCH + timedelta(microseconds=rng.randrange(int(SPAN.total_seconds() * 1e6)))


def users(rng: random.Random, count: int) -> Iterator[tuple[tuple[Any, ...], tuple[Any, ...]]]:
    """(auth.users row, profiles row) pairs."""
    for index in range(count):
        user_id, created = _uuid(rng), _at(rng)
        name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
        email = f"{name.split()[0].lower()}.{index}@example.test"
        updated = created + timedelta(seconds=rng.randrange(0, 90 * 86400))
        admin = rng.random() < 0.001 or index == 0
        yield (user_id, email, created), (user_id, email, name, admin, created, updated)


def categories(rng: random.Random, count: int) -> list[tuple[Any, ...]]:
    rows = []
    for index in range(count):
        theme = THEMES[index % len(THEMES)]
        round_ = index // len(THEMES)
        slug = theme.slug if round_ == 0 else f"{theme.slug}-{round_ + 1}"
        name = theme.name if round_ == 0 else f"{theme.name} {round_ + 1}"
        created = _at(rng)
        rows.append((_uuid(rng), slug, name, theme.description, index * 10, created, created))
    return rows


def listings(
    rng: random.Random, count: int, cats: Sequence[tuple[Any, ...]]
) -> list[tuple[Any, ...]]:
    weights = [1.0 / (rank + 1) for rank in range(len(cats))]
    rows = []
    for index in range(count):
        cat = rng.choices(cats, weights)[0]
        theme = THEMES[cats.index(cat) % len(THEMES)]
        role, audience = rng.choice(theme.roles), rng.choice(AUDIENCES)
        title = f"{rng.choice(ADJECTIVES)} {role.lower()} for {audience}"
        city = rng.choice(CITIES)
        low, high, period = theme.income
        income_min = rng.randrange(low, high)
        created = _at(rng)
        updated = created + timedelta(seconds=rng.randrange(0, 30 * 86400))
        slug = f"{role.lower().replace(' ', '-')}-{index}"
        remote = rng.random() < 0.4
        rows.append((
            _uuid(rng), slug, title, f"{role} work for {audience}.",
            f"{title}. {theme.description} Paid per {period}.", cat[0],
            "Remote" if remote else city, remote,
            rng.sample(theme.skills, rng.randint(1, len(theme.skills))),
            income_min, rng.randrange(income_min, high + 1), CURRENCIES[city[-2:]], period,
            f"https://example.com/gigs/{slug}" if rng.random() < 0.8 else None,
            f"https://img.example.com/{slug}.jpg" if rng.random() < 0.5 else None,
            created, updated,
        ))  # fmt: skip
    return rows


def favourites(
    rng: random.Random, total: int, user_ids: Sequence[str], listing_ids: Sequence[str]
) -> Iterator[tuple[Any, ...]]:
    """`total` distinct (user, listing) pairs: each user gets total/users of them, give or
    take one, drawn without replacement from the listings."""
    if not user_ids or not listing_ids:
        return
    per_user, extra = divmod(total, len(user_ids))
    if per_user + (1 if extra else 0) > len(listing_ids):
        raise ValueError("more favourites per user than there are listings")
    for index, user_id in enumerate(user_ids):
        count = per_user + (1 if index < extra else 0)
        for listing_id in rng.sample(listing_ids, count):
            yield (user_id, listing_id, _at(rng))


async def require_empty(conn: Any) -> None:
    """Refuse a database whose legacy tables (those that exist) hold any row."""
    held = [table for table in TABLES if await _holds_rows(conn, table)]
    if held:
        raise Refused(
            f"the target database already holds rows in {', '.join(held)}: generate fills "
            "only empty tables (a fresh database, or a rehearsal's, truncated)"
        )


async def _holds_rows(conn: Any, table: str) -> bool:
    if not await conn.fetchval("select to_regclass($1) is not null", table):
        return False
    return bool(await conn.fetchval(f"select exists (select 1 from {table})"))  # noqa: S608


Advance = Callable[[int], None]


async def generate(conn: Any, scale: Scale, *, on_rows: Advance | None = None) -> dict[str, int]:
    """Apply the schema and write the data set with COPY; returns rows written per table,
    and tells `on_rows` how many after each chunk (out of `scale.rows`). The tables must be
    empty (ids are random per seed, not keyed by index): `require_empty` is checked first."""
    rng = random.Random(scale.seed)
    await require_empty(conn)
    await conn.execute(legacy_schema())
    written: dict[str, int] = {}
    user_ids: list[str] = []
    auth_rows: list[tuple[Any, ...]] = []
    profile_rows: list[tuple[Any, ...]] = []

    async def flush_users() -> None:
        await _copy(conn, "auth", "users", ("id", "email", "created_at"), auth_rows)
        await _copy(conn, "public", "profiles", _PROFILE_COLUMNS, profile_rows)
        if on_rows:
            on_rows(len(auth_rows) + len(profile_rows))
        auth_rows.clear()
        profile_rows.clear()

    for auth_row, profile_row in users(rng, scale.users):
        user_ids.append(auth_row[0])
        auth_rows.append(auth_row)
        profile_rows.append(profile_row)
        if len(auth_rows) >= CHUNK:
            await flush_users()
    await flush_users()
    written["auth.users"] = written["public.profiles"] = scale.users

    cats = categories(rng, scale.categories)
    await _copy(conn, "public", "categories", _CATEGORY_COLUMNS, cats)
    items = listings(rng, scale.listings, cats) if cats else []
    await _copy(conn, "public", "listings", _LISTING_COLUMNS, items)
    if on_rows:
        on_rows(len(cats) + len(items))
    written["public.categories"], written["public.listings"] = len(cats), len(items)

    chunk: list[tuple[Any, ...]] = []
    written["public.favorites"] = 0
    for row in favourites(rng, scale.favourites, user_ids, [row[0] for row in items]):
        chunk.append(row)
        if len(chunk) >= CHUNK:
            written["public.favorites"] += await _copy_favourites(conn, chunk, on_rows)
    written["public.favorites"] += await _copy_favourites(conn, chunk, on_rows)
    return written


_PROFILE_COLUMNS = ("id", "email", "display_name", "is_admin", "created_at", "updated_at")
_CATEGORY_COLUMNS = (
    "id", "slug", "name", "description", "sort_order", "created_at", "updated_at",
)  # fmt: skip
_LISTING_COLUMNS = (
    "id", "slug", "title", "summary", "description", "category_id", "location", "remote",
    "skills", "income_min", "income_max", "income_currency", "income_period", "url",
    "image_url", "created_at", "updated_at",
)  # fmt: skip


async def _copy_favourites(conn: Any, chunk: list[tuple[Any, ...]], on_rows: Advance | None) -> int:
    count = len(chunk)
    await _copy(conn, "public", "favorites", ("user_id", "listing_id", "created_at"), chunk)
    if on_rows:
        on_rows(count)
    chunk.clear()
    return count


async def _copy(
    conn: Any, schema: str, table: str, cols: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    if rows:
        await conn.copy_records_to_table(
            table, schema_name=schema, columns=list(cols), records=rows
        )
