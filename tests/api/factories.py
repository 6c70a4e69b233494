"""Building test data through the public API, with unique slugs per call."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp.test_utils import TestClient

from tests.support.app import bearer


def unique_slug(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def create_category(
    client: TestClient[Any, Any], token: str, **fields: Any
) -> dict[str, Any]:
    body = {"slug": unique_slug("cat"), "name": "Category", "sortOrder": 0, **fields}
    response = await client.post("/v1/admin/categories", json=body, headers=bearer(token))
    assert response.status == 201, await response.text()
    created: dict[str, Any] = await response.json()
    return created


def listing_body(category_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "slug": unique_slug("listing"),
        "title": "Dog walking",
        "summary": "Walk dogs in your neighbourhood",
        "description": "Flexible hours.",
        "categoryId": category_id,
        "location": "Leeds, UK",
        "remote": False,
        "skills": ["reliability", "animals"],
        "incomePotential": {"min": 200, "max": 900, "currency": "GBP", "period": "month"},
        **fields,
    }


async def create_listing(
    client: TestClient[Any, Any], token: str, category_id: str, **fields: Any
) -> dict[str, Any]:
    response = await client.post(
        "/v1/admin/listings", json=listing_body(category_id, **fields), headers=bearer(token)
    )
    assert response.status == 201, await response.text()
    created: dict[str, Any] = await response.json()
    return created
