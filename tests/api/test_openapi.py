from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from openapi_spec_validator import validate

Client = TestClient[Any, Any]


async def test_the_document_is_valid_openapi_3_1(client: Client) -> None:
    response = await client.get("/openapi.json")
    assert response.status == 200
    spec = await response.json()
    assert spec["openapi"] == "3.1.0"
    validate(spec)


async def test_every_route_is_in_the_spec_and_every_spec_path_is_routed(client: Client) -> None:
    spec = await (await client.get("/openapi.json")).json()
    documented = {(method.upper(), path) for path, ops in spec["paths"].items() for method in ops}
    routed = {
        (route.method, route.resource.canonical)
        for route in client.app.router.routes()
        # HEAD mirrors GET; OPTIONS answers CORS preflights (service.api.cors); "*" is the
        # catch-all that answers unknown paths with problem+json.
        if route.method not in {"HEAD", "OPTIONS", "*"} and isinstance(route.resource, web.Resource)
    }
    assert documented == routed
    assert len(documented) == 23


async def test_the_category_page_documents_its_filters_with_the_enforced_bounds(
    client: Client,
) -> None:
    from service.api.params import FILTER_PARAMS
    from service.catalog.listing_filter import MAX_INCOME, MAX_LOCATION_CHARS, MAX_SKILLS, PERIODS

    spec = await (await client.get("/openapi.json")).json()
    operation = spec["paths"]["/v1/categories/{ref}/listings"]["get"]
    query = {p["name"]: p for p in operation["parameters"] if p["in"] == "query"}
    assert set(query) == {"limit", "cursor", *FILTER_PARAMS}
    assert all(query[name]["description"] for name in FILTER_PARAMS)
    assert query["location"]["schema"]["maxLength"] == MAX_LOCATION_CHARS
    assert query["remote"]["schema"] == {"type": "boolean"}
    assert query["skills"]["schema"]["maxItems"] == MAX_SKILLS
    assert query["skills"]["explode"] is True
    assert "ALL" in query["skills"]["description"]
    assert query["period"]["schema"]["enum"] == list(PERIODS)
    for bound in ("incomeMin", "incomeMax"):
        assert query[bound]["schema"]["maximum"] == MAX_INCOME
    # Only the category page takes them.
    others = [
        p["name"]
        for path, ops in spec["paths"].items()
        if path != "/v1/categories/{ref}/listings"
        for op in ops.values()
        for p in op.get("parameters", [])
    ]
    assert FILTER_PARAMS.isdisjoint(others)
