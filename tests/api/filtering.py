"""Filtered category pages under test: seeded listings, the documented semantics written out
again independently (`matches`), and HTTP helpers. Expected results are computed from the
listings as the API returned them, never hard-coded."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

from aiohttp.test_utils import TestClient

from service.runtime.appkeys import TABLE
from tests.api.factories import create_category, create_listing

Client = TestClient[Any, Any]
Query = list[tuple[str, str]]

# Varied on purpose: cases and spaces in locations and skills, several currencies and periods,
# ranges that touch the bounds used below.
SPECS: tuple[dict[str, Any], ...] = (
    {"location": "Leeds, UK", "remote": False, "skills": ["Writing", "SEO"],
     "incomePotential": {"min": 200, "max": 900, "currency": "GBP", "period": "month"}},
    {"location": "London, UK", "remote": True, "skills": ["writing"],
     "incomePotential": {"min": 1000, "max": 3000, "currency": "GBP", "period": "month"}},
    {"location": "Remote", "remote": True, "skills": ["Python", "SQL"],
     "incomePotential": {"min": 30, "max": 80, "currency": "USD", "period": "hour"}},
    {"location": "Berlin", "remote": False, "skills": ["python", "Writing"],
     "incomePotential": {"min": 500, "max": 1500, "currency": "EUR", "period": "month"}},
    {"location": "new york", "remote": True, "skills": ["SQL"],
     "incomePotential": {"min": 2000, "max": 6000, "currency": "USD", "period": "month"}},
    {"location": "Leeds", "remote": True, "skills": [],
     "incomePotential": {"min": 0, "max": 100, "currency": "GBP", "period": "month"}},
    {"location": "", "remote": False, "skills": ["Python", "SQL", "Writing"],
     "incomePotential": {"min": 100, "max": 200, "currency": "USD", "period": "month"}},
    {"location": "  LEEDS city centre", "remote": False, "skills": ["seo"],
     "incomePotential": {"min": 900, "max": 900, "currency": "GBP", "period": "month"}},
)  # fmt: skip

QUERIES: tuple[Query, ...] = (
    [("location", "leeds")],
    [("location", "UK")],
    [("location", " New York ")],
    [("remote", "true")],
    [("remote", "false")],
    [("skills", "python")],
    [("skills", "PYTHON"), ("skills", "sql")],
    [("skills", "sql,Python")],
    [("skills", "writing"), ("skills", "seo")],
    [("skills", "writ")],  # whole skills only: matches nothing
    [("currency", "GBP")],
    [("period", "hour")],
    [("currency", "GBP"), ("period", "month"), ("incomeMin", "900")],
    [("currency", "GBP"), ("period", "month"), ("incomeMax", "200")],
    [("currency", "USD"), ("period", "month"), ("incomeMin", "150"), ("incomeMax", "250")],
    [("currency", "GBP"), ("period", "month"), ("incomeMin", "901"), ("incomeMax", "999")],
    [("location", "leeds"), ("remote", "false"), ("skills", "seo")],
    [("remote", "true"), ("currency", "USD"), ("period", "month"), ("incomeMin", "1000")],
    [("skills", "writing"), ("remote", "false"), ("location", "e")],
)


def matches(listing: dict[str, Any], query: Query) -> bool:
    asked: dict[str, list[str]] = {}
    for name, value in query:
        asked.setdefault(name, []).append(value)
    income = listing["incomePotential"]
    if "location" in asked:
        wanted = asked["location"][0].strip().lower()
        if wanted not in listing["location"].lower():
            return False
    if "remote" in asked and listing["remote"] != (asked["remote"][0] == "true"):
        return False
    skills = {s.strip().lower() for v in asked.get("skills", []) for s in v.split(",")}
    if not skills <= {s.lower() for s in listing["skills"]}:
        return False
    for name in ("currency", "period"):
        if name in asked and income[name] != asked[name][0]:
            return False
    if "incomeMin" in asked and income["max"] < int(asked["incomeMin"][0]):
        return False
    return not ("incomeMax" in asked and income["min"] > int(asked["incomeMax"][0]))


async def seed(client: Client, token: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A category with SPECS' listings, and every listing as its unfiltered page shows them
    (newest first)."""
    category = await create_category(client, token)
    for spec in SPECS:
        await create_listing(client, token, category["id"], **spec)
    page = await get_page(client, category["slug"], [("limit", "100")])
    assert len(page["items"]) == len(SPECS)
    return category, page["items"]


def page_path(ref: str, query: Query) -> str:
    return f"/v1/categories/{ref}/listings?{urlencode(query)}"


async def get_page(client: Client, ref: str, query: Query) -> dict[str, Any]:
    response = await client.get(page_path(ref, query))
    assert response.status == 200, (query, await response.text())
    body: dict[str, Any] = await response.json()
    return body


async def walk(client: Client, ref: str, query: Query, limit: int) -> list[list[str]]:
    """Every page of a filtered result, as lists of ids; bounded by the seeded count."""
    pages: list[list[str]] = []
    cursor: str | None = None
    for _ in range(len(SPECS) + 2):
        extra = [("limit", str(limit))] + ([("cursor", cursor)] if cursor else [])
        page = await get_page(client, ref, query + extra)
        pages.append([item["id"] for item in page["items"]])
        cursor = page["nextCursor"]
        if cursor is None:
            return pages
    raise AssertionError(f"more pages than listings for {query}")


@contextmanager
def counting(client: Client, operation: str) -> Iterator[list[str]]:
    """The DynamoDB `operation` calls the app's own client makes (botocore's event hook)."""
    calls: list[str] = []

    def record(**_: Any) -> None:
        calls.append(operation)

    events = client.app[TABLE].client.meta.events
    events.register(f"before-call.dynamodb.{operation}", record)
    try:
        yield calls
    finally:
        events.unregister(f"before-call.dynamodb.{operation}", record)
