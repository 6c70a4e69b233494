"""CORS: exact origins from settings, preflights answered from the route table alone (never a
handler, the cache or DynamoDB), the response headers a page may read exposed, refused
origins answered without CORS headers and counted, and never `*` on a route with a token."""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from pydantic import ValidationError

from service.api.cors import EXPOSED, browser_route
from service.api.routes import ROUTES, Route
from service.app import create_app
from service.config import Settings
from service.runtime.appkeys import METRICS
from tests.api.factories import create_category
from tests.support.app import AiohttpClient, bearer

Client = TestClient[Any, Any]
APP = "https://app.hustlehub.test"
DEV = "http://127.0.0.1:8081"
EVIL = "https://evil.example"


def _paths() -> dict[str, list[Route]]:
    paths: dict[str, list[Route]] = defaultdict(list)
    for route in ROUTES:
        if browser_route(route.path):
            paths[route.path].append(route)
    return paths


def _concrete(path: str) -> str:
    # Placeholders filled with refs that were never loaded: any fill would show.
    return (
        path.replace("{ref}", f"never-{uuid.uuid4().hex[:8]}")
        .replace("{id}", uuid.uuid4().hex)
        .replace("{listing_id}", uuid.uuid4().hex)
        .replace("{sub}", uuid.uuid4().hex)
    )


@pytest.fixture
async def cors_client(aiohttp_client: AiohttpClient, settings: Settings) -> Client:
    configured = settings.model_copy(update={"cors_allowed_origins": (APP, DEV)})
    return await aiohttp_client(create_app(configured))


def _rejected(client: Client) -> dict[str, float]:
    registry = client.app[METRICS].registry
    return {
        kind: registry.get_sample_value("hustlehub_http_cors_rejected_total", {"kind": kind}) or 0.0
        for kind in ("preflight", "request")
    }


def _sum(client: Client, sample: str) -> float:
    metrics = client.app[METRICS]
    metrics.tallies.flush()
    values: list[float] = [
        s.value for family in metrics.registry.collect() for s in family.samples if s.name == sample
    ]
    return sum(values)


async def test_an_allowed_origin_reads_a_public_page_and_its_headers(
    cors_client: Client, admin_token: str
) -> None:
    category = await create_category(cors_client, admin_token)
    path = f"/v1/categories/{category['id']}"
    await cors_client.get(path)
    response = await cors_client.get(path, headers={"Origin": APP})
    assert response.status == 200
    assert response.headers["X-Cache"] == "memory"
    assert response.headers["Access-Control-Allow-Origin"] == APP
    exposed = {h.strip() for h in response.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"ETag", "X-Cache", "X-Request-Id", "Retry-After"} <= exposed == set(EXPOSED)
    assert "Access-Control-Allow-Credentials" not in response.headers  # bearer tokens only
    vary = {v.strip() for v in response.headers["Vary"].split(",")}
    assert vary == {"Accept-Encoding", "Origin"}
    # Without an Origin the answer differs (no CORS headers), so it varies on Origin too.
    plain = await cors_client.get(path)
    assert "Access-Control-Allow-Origin" not in plain.headers
    assert "Origin" in plain.headers["Vary"]
    assert _rejected(cors_client) == {"preflight": 0.0, "request": 0.0}


async def test_an_origin_not_allowed_gets_no_cors_headers_and_is_counted(
    cors_client: Client, user_token: str
) -> None:
    for path, headers in (
        ("/v1/categories", {}),
        ("/v1/me", bearer(user_token)),
        ("/v1/listings/no-such-listing", {}),
    ):
        response = await cors_client.get(path, headers={**headers, "Origin": EVIL})
        assert not [h for h in response.headers if h.lower().startswith("access-control-")]
    # An origin differing only in scheme, port or a trailing slash is another origin.
    for near in ("http://app.hustlehub.test", "https://app.hustlehub.test:8443", APP + "/"):
        response = await cors_client.get("/v1/categories", headers={"Origin": near})
        assert "Access-Control-Allow-Origin" not in response.headers
    assert _rejected(cors_client) == {"preflight": 0.0, "request": 6.0}


async def test_every_browser_path_answers_its_preflight_with_its_methods_and_headers(
    cors_client: Client, settings: Settings
) -> None:
    paths = _paths()
    assert len(paths) == 13
    for path, routes in paths.items():
        methods = {r.method for r in routes} | (
            {"HEAD"} if any(r.method == "GET" for r in routes) else set()
        )
        for asked in sorted({r.method for r in routes}):
            response = await cors_client.options(
                _concrete(path),
                headers={
                    "Origin": DEV,
                    "Access-Control-Request-Method": asked,
                    "Access-Control-Request-Headers": "authorization",
                },
            )
            assert response.status == 204, (path, asked, await response.text())
            assert response.headers["Access-Control-Allow-Origin"] == DEV
            allow = {m.strip() for m in response.headers["Access-Control-Allow-Methods"].split(",")}
            assert allow == methods, path
            taken = {
                h.strip().lower()
                for h in response.headers["Access-Control-Allow-Headers"].split(",")
            }
            signed_in = any(r.auth != "public" for r in routes)
            assert ("authorization" in taken) == signed_in, path
            assert ("content-type" in taken) == any(r.body is not None for r in routes), path
            assert ("if-match" in taken) == any(r.conditional for r in routes), path
            assert int(response.headers["Access-Control-Max-Age"]) == settings.cors_max_age_s
            assert response.headers["Vary"] == "Origin"
    assert _rejected(cors_client) == {"preflight": 0.0, "request": 0.0}


async def test_preflights_never_reach_a_handler_the_cache_or_dynamodb(
    cors_client: Client,
) -> None:
    before = {
        name: _sum(cors_client, name)
        for name in (
            "hustlehub_dynamodb_requests_total",
            "hustlehub_cache_misses_total",
            "hustlehub_cache_load_duration_seconds_count",
        )
    }
    for path, routes in _paths().items():
        for route in routes:
            for origin in (APP, EVIL):
                response = await cors_client.options(
                    _concrete(path),
                    headers={"Origin": origin, "Access-Control-Request-Method": route.method},
                )
                assert response.status in (204, 403)
    after = {name: _sum(cors_client, name) for name in before}
    assert after == before
    # The preflights are requests like any other in the request metrics.
    requests = cors_client.app[METRICS].registry.get_sample_value(
        "hustlehub_http_requests_total",
        {"route": "/v1/listings/{ref}", "method": "OPTIONS", "status": "204"},
    )
    assert requests == 1.0


async def test_a_preflight_from_an_origin_not_allowed_is_refused_and_counted(
    cors_client: Client,
) -> None:
    response = await cors_client.options(
        "/v1/me", headers={"Origin": EVIL, "Access-Control-Request-Method": "PUT"}
    )
    assert response.status == 403
    assert response.content_type == "application/problem+json"
    assert not [h for h in response.headers if h.lower().startswith("access-control-")]
    assert _rejected(cors_client) == {"preflight": 1.0, "request": 0.0}
    # A plain OPTIONS (no preflight) says what the path allows.
    plain = await cors_client.options("/v1/me")
    assert plain.status == 204
    assert {m.strip() for m in plain.headers["Allow"].split(",")} == {
        "GET",
        "HEAD",
        "PUT",
        "OPTIONS",
    }


async def test_errors_carry_cors_headers_so_a_page_can_read_them(
    cors_client: Client,
) -> None:
    missing = await cors_client.get("/v1/listings/no-such-listing", headers={"Origin": APP})
    assert missing.status == 404
    assert missing.headers["Access-Control-Allow-Origin"] == APP
    unsigned = await cors_client.get("/v1/me", headers={"Origin": APP})
    assert unsigned.status == 401
    assert unsigned.headers["Access-Control-Allow-Origin"] == APP
    assert "WWW-Authenticate" in unsigned.headers["Access-Control-Expose-Headers"]
    unknown = await cors_client.get("/v1/nothing/here", headers={"Origin": APP})
    assert unknown.status == 404  # not a route: no CORS, the browser reports a network error
    assert "Access-Control-Allow-Origin" not in unknown.headers


async def test_operational_routes_have_no_cors(cors_client: Client) -> None:
    for path in ("/healthz", "/metrics", "/openapi.json"):
        response = await cors_client.get(path, headers={"Origin": APP})
        assert "Access-Control-Allow-Origin" not in response.headers, path
        preflight = await cors_client.options(
            path, headers={"Origin": APP, "Access-Control-Request-Method": "GET"}
        )
        assert preflight.status == 405, path


async def test_any_origin_on_public_reads_is_never_a_wildcard_on_signed_in_routes(
    aiohttp_client: AiohttpClient, settings: Settings, user_token: str
) -> None:
    client = await aiohttp_client(
        create_app(
            settings.model_copy(
                update={"cors_allowed_origins": (APP,), "cors_public_any_origin": True}
            )
        )
    )
    public = await client.get("/v1/categories", headers={"Origin": EVIL})
    assert public.headers["Access-Control-Allow-Origin"] == "*"
    assert "Origin" not in public.headers.get("Vary", "")  # the same answer for every caller
    preflight = await client.options(
        "/v1/categories", headers={"Origin": EVIL, "Access-Control-Request-Method": "GET"}
    )
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    for origin, expected in ((EVIL, None), (APP, APP)):
        me = await client.get("/v1/me", headers={**bearer(user_token), "Origin": origin})
        assert me.headers.get("Access-Control-Allow-Origin") == expected
        pre = await client.options(
            "/v1/me/favourites/x",
            headers={"Origin": origin, "Access-Control-Request-Method": "PUT"},
        )
        assert pre.headers.get("Access-Control-Allow-Origin") == expected
    assert _rejected(client) == {"preflight": 1.0, "request": 1.0}


async def test_without_origins_configured_nothing_varies_and_every_origin_is_refused(
    client: Client,
) -> None:
    response = await client.get("/v1/categories", headers={"Origin": APP})
    assert "Access-Control-Allow-Origin" not in response.headers
    assert response.headers["Vary"] == "Accept-Encoding"
    assert _rejected(client) == {"preflight": 0.0, "request": 1.0}


@pytest.mark.parametrize(
    "origins",
    [
        "*",
        "https://*.hustlehub.test",
        "https://app.hustlehub.test/",
        "https://app.hustlehub.test/path",
        "HTTPS://APP.hustlehub.test",
        "https://app.hustlehub.test:443",
        "http://127.0.0.1:80",
        "app.hustlehub.test",
        "null",
        f"{APP}, *",
    ],
)
def test_allowed_origins_are_exact_origins_only(origins: str) -> None:
    with pytest.raises(ValidationError, match="HUSTLEHUB_CORS_ALLOWED_ORIGINS"):
        Settings(mode="test", cors_allowed_origins=origins)


def test_allowed_origins_are_read_comma_separated_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HUSTLEHUB_CORS_ALLOWED_ORIGINS", f"{APP}, {DEV},")
    assert Settings(mode="test").cors_allowed_origins == (APP, DEV)
