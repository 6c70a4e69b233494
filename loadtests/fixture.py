"""What a load test needs before it starts: who signs in, and what there is to read.

A fixture is a small JSON document:
    {"users": [token...], "admins": [token...],
     "categories": [{"id", "slug"}...], "listings": [{"id", "slug"}...]}
Tokens come from dev-mode sign-in (`var/dev-state.json` and the dev pool's own
`issue_access_token`), or from whoever builds the fixture (the tests use their token mint).
The catalogue comes from crawling the public API, which also fills the service's cache with
every category page it visits. Everything here speaks HTTP to loopback and is synchronous,
so the locustfile (gevent) and the drivers (plain Python) can both use it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import secrets
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol, cast

from aiobotocore.session import get_session

from service.dev.devpool import DevPool, DevUser, issue_access_token

DEV_STATE = Path("var/dev-state.json")
LOOPBACK = ("http://127.0.0.1", "http://localhost", "http://[::1]")
MAX_PAGES_PER_CATEGORY = 1_000  # a crawl is bounded even if a server loops its cursors


def require_loopback(base_url: str) -> str:
    if not base_url.startswith(LOOPBACK):
        raise ValueError(f"load tests target loopback only, not {base_url!r}")
    return base_url.rstrip("/")


def http(
    method: str,
    url: str,
    *,
    token: str | None = None,
    body: bytes | None = None,
    timeout_s: float = 30.0,
) -> tuple[int, bytes]:
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if body is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def get_json(url: str) -> Any:
    status, body = http("GET", url)
    if status != 200:
        raise RuntimeError(f"GET {url} answered {status}: {body[:200]!r}")
    return json.loads(body)


def crawl(base_url: str) -> dict[str, list[dict[str, str]]]:
    """Every category and every listing, by walking each category's pages by slug with the
    default limit: the very pages the scenario's readers ask for, so the walk warms them."""
    base = require_loopback(base_url)
    categories = [
        {"id": c["id"], "slug": c["slug"]} for c in get_json(f"{base}/v1/categories")["items"]
    ]
    listings: list[dict[str, str]] = []
    for category in categories:
        cursor: str | None = None
        for _ in range(MAX_PAGES_PER_CATEGORY):
            query = f"?{urllib.parse.urlencode({'cursor': cursor})}" if cursor else ""
            url = f"{base}/v1/categories/{category['slug']}/listings{query}"
            page = get_json(url)
            listings.extend({"id": item["id"], "slug": item["slug"]} for item in page["items"])
            cursor = page.get("nextCursor")
            if not cursor:
                break
    return {"categories": categories, "listings": listings}


def write(path: Path, fixture: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(fixture))


def read(path: Path) -> dict[str, Any]:
    fixture: dict[str, Any] = json.loads(path.read_text())
    missing = [k for k in ("users", "admins", "categories", "listings") if k not in fixture]
    if missing:
        raise ValueError(f"{path}: the fixture lacks {', '.join(missing)}")
    return fixture


def ensure_profiles(base_url: str, tokens: list[str]) -> None:
    """PUT /v1/me for each token: a fresh Cognito user has no profile until it does."""
    base = require_loopback(base_url)
    for token in tokens:
        status, body = http("PUT", f"{base}/v1/me", token=token)
        if status not in (200, 201):
            raise RuntimeError(f"PUT /v1/me answered {status}: {body[:200]!r}")


# -- dev-mode sign-in --------------------------------------------------------------------------


class _Idp(Protocol):
    def admin_create_user(self, **kwargs: Any) -> Awaitable[dict[str, Any]]: ...
    def admin_set_user_password(self, **kwargs: Any) -> Awaitable[dict[str, Any]]: ...
    def admin_get_user(self, **kwargs: Any) -> Awaitable[dict[str, Any]]: ...


@asynccontextmanager
async def _idp(pool: DevPool) -> AsyncIterator[_Idp]:
    async with get_session().create_client(
        "cognito-idp",
        region_name=pool.region,
        endpoint_url=pool.endpoint,
        aws_access_key_id="dev",
        aws_secret_access_key="dev",  # noqa: S106 - moto ignores it; not a secret
    ) as client:
        yield cast(_Idp, client)


async def _add_users(pool: DevPool, count: int) -> DevPool:
    """`count` more plain users in the dev pool (moto's Cognito), signed up like the demo one."""
    users = dict(pool.users)
    async with _idp(pool) as idp:
        for n in range(count):
            username = f"loadtest-{n:03d}"
            if username in users:
                continue
            password = f"Lt-{secrets.token_urlsafe(12)}-9a"
            email = f"{username}@hustlehub.invalid"
            await idp.admin_create_user(
                UserPoolId=pool.pool_id,
                Username=username,
                MessageAction="SUPPRESS",
                UserAttributes=[{"Name": "email", "Value": email}],
            )
            await idp.admin_set_user_password(
                UserPoolId=pool.pool_id, Username=username, Password=password, Permanent=True
            )
            got = await idp.admin_get_user(UserPoolId=pool.pool_id, Username=username)
            sub = next(a["Value"] for a in got["UserAttributes"] if a["Name"] == "sub")
            users[username] = DevUser(username, password, sub, email, username, False)
    return dataclasses.replace(pool, users=users)


async def _sign_in(pool: DevPool) -> tuple[list[str], list[str]]:
    users: list[str] = []
    admins: list[str] = []
    for name, user in sorted(pool.users.items()):
        (admins if user.is_admin else users).append(await issue_access_token(pool, name))
    return users, admins


def dev_tokens(*, extra_users: int = 0, state: Path = DEV_STATE) -> tuple[list[str], list[str]]:
    """(user tokens, admin tokens) from the running dev mode's pool; adds `extra_users`."""
    if not state.exists():
        raise FileNotFoundError(f"{state} not found: start dev mode first (make run)")
    pool = DevPool.from_json(state.read_text())

    async def run() -> tuple[list[str], list[str]]:
        grown = await _add_users(pool, extra_users) if extra_users else pool
        return await _sign_in(grown)

    return asyncio.run(run())


def build(base_url: str, *, users: list[str], admins: list[str]) -> dict[str, Any]:
    if not users or not admins:
        raise ValueError("a load test needs at least one user token and one admin token")
    ensure_profiles(base_url, users + admins)
    return {"users": users, "admins": admins, **crawl(base_url)}
