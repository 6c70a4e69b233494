"""What a load test needs before it starts: who signs in, and what there is to read.

A fixture is a small JSON document:
    {"users": [token...], "admins": [token...],
     "categories": [{"id", "slug"}...], "listings": [{"id", "slug"}...]}
Tokens come from dev-mode sign-in (the dev users in `var/dev-state.json`, signed in over HTTP
against moto's Cognito as `hustlehub token` does), or from whoever builds the fixture (the
tests use their token mint). The catalogue comes from crawling the public API, which also
fills the service's cache with every category page it visits. Everything here speaks HTTP to
loopback and is synchronous, so the locustfile (gevent) and the drivers (plain Python) can
both use it.
"""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError

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


@dataclass(frozen=True, slots=True)
class DevUser:
    password: str
    is_admin: bool


@dataclass(frozen=True, slots=True)
class DevState:
    """What dev mode wrote to its state file (service/dev/devmode.py): the dev Cognito pool on
    moto and its users, and where the table and Redis it set up are."""

    endpoint: str  # moto's Cognito
    region: str
    pool_id: str
    client_id: str
    jwks_url: str
    users: dict[str, DevUser]
    dynamodb_endpoint: str | None = None
    table_name: str | None = None
    redis_url: str | None = None

    @classmethod
    def read(cls, path: Path = DEV_STATE) -> DevState:
        if not path.exists():
            raise FileNotFoundError(f"{path} not found: start dev mode first (make run)")
        raw = json.loads(path.read_text())
        dynamodb = raw.get("dynamodb_endpoint")
        return cls(
            endpoint=require_loopback(raw["endpoint"]),
            region=raw["region"],
            pool_id=raw["pool_id"],
            client_id=raw["client_id"],
            jwks_url=require_loopback(raw["jwks_url"]),
            users={
                name: DevUser(user["password"], bool(user["is_admin"]))
                for name, user in raw["users"].items()
            },
            dynamodb_endpoint=require_loopback(dynamodb) if dynamodb else None,
            table_name=raw.get("table_name"),
            redis_url=raw.get("redis_url"),
        )


class _Idp(Protocol):
    """The cognito-idp calls made here (botocore's stubs do not name a client's operations)."""

    def admin_create_user(self, **kwargs: Any) -> dict[str, Any]: ...
    def admin_set_user_password(self, **kwargs: Any) -> dict[str, Any]: ...
    def admin_initiate_auth(self, **kwargs: Any) -> dict[str, Any]: ...
    def close(self) -> None: ...


def _idp(state: DevState) -> _Idp:
    client = botocore.session.get_session().create_client(
        "cognito-idp",
        region_name=state.region,
        endpoint_url=state.endpoint,
        aws_access_key_id="dev",
        aws_secret_access_key="dev",  # noqa: S106 - moto ignores it; not a secret
        config=Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 3}),
    )
    return cast(_Idp, client)


def _add_user(idp: _Idp, state: DevState, username: str) -> DevUser:
    """A plain user in the dev pool, signed up like the demo one. One an earlier run left in
    the same pool (a second locust against one `make run`) is given a new password instead."""
    password = f"Lt-{secrets.token_urlsafe(12)}-9a"
    try:
        idp.admin_create_user(
            UserPoolId=state.pool_id,
            Username=username,
            MessageAction="SUPPRESS",
            UserAttributes=[{"Name": "email", "Value": f"{username}@hustlehub.invalid"}],
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "UsernameExistsException":
            raise
    # Permanent: otherwise the first sign-in is a NEW_PASSWORD_REQUIRED challenge.
    idp.admin_set_user_password(
        UserPoolId=state.pool_id, Username=username, Password=password, Permanent=True
    )
    return DevUser(password, is_admin=False)


def _sign_in(idp: _Idp, state: DevState, username: str, user: DevUser) -> str:
    result = idp.admin_initiate_auth(
        UserPoolId=state.pool_id,
        ClientId=state.client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": user.password},
    )
    if "AuthenticationResult" not in result:
        raise RuntimeError(f"{username}: sign-in answered {result.get('ChallengeName')!r}")
    return str(result["AuthenticationResult"]["AccessToken"])


def dev_tokens(*, extra_users: int = 0, state: Path = DEV_STATE) -> tuple[list[str], list[str]]:
    """(user tokens, admin tokens) from the running dev mode's pool; adds `extra_users`."""
    dev = DevState.read(state)
    users = dict(dev.users)
    idp = _idp(dev)
    try:
        for n in range(extra_users):
            username = f"loadtest-{n:03d}"
            if username not in users:
                users[username] = _add_user(idp, dev, username)
        tokens: list[str] = []
        admins: list[str] = []
        for username, user in sorted(users.items()):
            (admins if user.is_admin else tokens).append(_sign_in(idp, dev, username, user))
    finally:
        idp.close()
    return tokens, admins


def build(base_url: str, *, users: list[str], admins: list[str]) -> dict[str, Any]:
    if not users or not admins:
        raise ValueError("a load test needs at least one user token and one admin token")
    ensure_profiles(base_url, users + admins)
    return {"users": users, "admins": admins, **crawl(base_url)}
