"""Every route's declared auth (`Route.auth` in service.api.routes.ROUTES) is what the app
enforces, route by route: a route added to the table is covered without a test of its own."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from service.api.routes import ROUTES, Route
from service.runtime.appkeys import METRICS
from tests.support.app import bearer
from tests.support.tokens import TokenMint

Client = TestClient[Any, Any]

CHALLENGE = 'Bearer error="invalid_token"'


def _name(route: Route) -> str:
    return f"{route.method} {route.path}"


def _path(route: Route) -> str:
    # A unique, well-formed value for every path parameter: nothing it names exists, and a
    # route that grants or revokes touches nobody else's grant.
    return re.sub(r"\{\w+\}", f"probe-{uuid.uuid4().hex[:12]}", route.path)


async def _statuses(client: Client, routes: list[Route], headers: dict[str, str]) -> dict[str, int]:
    statuses: dict[str, int] = {}
    for route in routes:
        async with client.request(route.method, _path(route), headers=headers) as response:
            statuses[_name(route)] = response.status
            if response.status in (401, 403):
                assert response.content_type == "application/problem+json", _name(route)
            if response.status == 401:
                assert response.headers["WWW-Authenticate"] == CHALLENGE, _name(route)
    return statuses


PROTECTED = [route for route in ROUTES if route.auth != "public"]
USER = [route for route in ROUTES if route.auth == "user"]
ADMIN = [route for route in ROUTES if route.auth == "admin"]
PUBLIC = [route for route in ROUTES if route.auth == "public"]


def test_the_table_declares_every_kind_of_auth() -> None:
    # Otherwise the tests below could pass by iterating nothing.
    assert USER
    assert ADMIN
    assert PUBLIC


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not.a.jwt"}], ids=str)
async def test_every_user_and_admin_route_is_401_without_a_valid_token(
    client: Client, headers: dict[str, str]
) -> None:
    statuses = await _statuses(client, PROTECTED, headers)
    assert statuses == {_name(route): 401 for route in PROTECTED}


async def test_an_expired_token_is_401_on_every_user_and_admin_route(
    client: Client, mint: TokenMint
) -> None:
    statuses = await _statuses(client, PROTECTED, bearer(mint.token(exp=1)))
    assert statuses == {_name(route): 401 for route in PROTECTED}


async def test_every_admin_route_is_403_for_a_user_without_a_grant(
    client: Client, user_token: str
) -> None:
    statuses = await _statuses(client, ADMIN, bearer(user_token))
    assert statuses == {_name(route): 403 for route in ADMIN}


async def test_every_user_route_lets_any_signed_in_user_through(
    client: Client, user_token: str
) -> None:
    statuses = await _statuses(client, USER, bearer(user_token))
    refused = {name: status for name, status in statuses.items() if status in (401, 403)}
    assert refused == {}
    assert 500 not in statuses.values()


async def test_every_admin_route_lets_an_admin_through(client: Client, admin_token: str) -> None:
    statuses = await _statuses(client, ADMIN, bearer(admin_token))
    refused = {name: status for name, status in statuses.items() if status in (401, 403)}
    assert refused == {}
    assert 500 not in statuses.values()


async def test_a_public_route_does_no_auth_step(client: Client) -> None:
    # A token that could never verify: any auth step at all would answer 401 and count it.
    statuses = await _statuses(client, PUBLIC, {"Authorization": "Bearer not.a.jwt"})
    assert {name: status for name, status in statuses.items() if status == 401} == {}
    failures = {
        sample.labels["reason"]: sample.value
        for family in client.app[METRICS].registry.collect()
        if family.name == "hustlehub_auth_failures"
        for sample in family.samples
        if sample.name.endswith("_total")
    }
    assert failures
    assert {reason: count for reason, count in failures.items() if count} == {}


def test_a_cached_route_cannot_require_a_token() -> None:
    # One cached copy serves every caller: a private answer there would leak.
    with pytest.raises(ValueError, match="must be public"):
        Route("GET", "/v1/private", ROUTES[0].handler, "", auth="user", cached=True)
