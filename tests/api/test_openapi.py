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
        # HEAD mirrors GET; "*" is the catch-all that answers unknown paths with problem+json.
        if route.method not in {"HEAD", "*"} and isinstance(route.resource, web.Resource)
    }
    assert documented == routed
    assert len(documented) == 23
