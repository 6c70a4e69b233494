from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.support.app import bearer

Client = TestClient[Any, Any]


async def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    body: dict[str, Any] = await response.json()
    assert body["status"] == status
    assert {"type", "title", "detail"} <= body.keys()
    assert "Traceback" not in body["detail"]
    return body


async def test_unknown_route_is_a_404_problem(client: Client) -> None:
    await _problem(await client.get("/nope/nothing/here"), 404)


async def test_wrong_method_is_405_with_allow(client: Client) -> None:
    response = await client.post("/v1/categories", json={})
    await _problem(response, 405)
    assert "GET" in response.headers["Allow"]


async def test_malformed_json_is_400(client: Client, admin_token: str) -> None:
    response = await client.post(
        "/v1/admin/categories",
        data=b'{"slug": "x",',
        headers={**bearer(admin_token), "Content-Type": "application/json"},
    )
    await _problem(response, 400)


async def test_non_json_body_is_415(client: Client, admin_token: str) -> None:
    response = await client.post(
        "/v1/admin/categories",
        data=b"slug=x",
        headers={**bearer(admin_token), "Content-Type": "application/x-www-form-urlencoded"},
    )
    await _problem(response, 415)


async def test_body_over_the_limit_is_413(client: Client, admin_token: str) -> None:
    response = await client.post(
        "/v1/admin/categories",
        data=b'{"name": "' + b"x" * (256 * 1024) + b'"}',
        headers={**bearer(admin_token), "Content-Type": "application/json"},
    )
    await _problem(response, 413)


async def test_json_that_is_not_an_object_is_422(client: Client, admin_token: str) -> None:
    response = await client.post("/v1/admin/categories", json=[1, 2], headers=bearer(admin_token))
    body = await _problem(response, 422)
    assert body["errors"]


async def test_an_oversized_token_is_401_not_500(client: Client) -> None:
    # Fits aiohttp's 8 KB header line, so it reaches the verifier, which refuses it unparsed.
    response = await client.get("/v1/me", headers={"Authorization": "Bearer " + "a" * 8_100})
    body = await _problem(response, 401)
    assert "aaaa" not in body["detail"]
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


async def test_a_megabyte_header_is_refused_by_the_http_parser(client: Client) -> None:
    # Past 8 KB a header line never reaches the app: aiohttp's parser answers 400 and closes.
    response = await client.get("/v1/me", headers={"Authorization": "Bearer " + "a" * 2**20})
    assert response.status == 400
