"""Dev-mode sign-in: a Cognito user pool on moto's emulation, with a demo user and a demo admin.

moto signs these tokens with its published key, so a pool made here is only ever trusted by a
`JwksCache(allow_dev_keys=True)`, which dev mode and tests alone construct.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Protocol, cast

from aiobotocore.session import get_session

ADMIN_GROUP = "admin"
_DEMO_USERS = (
    # username, email, display name, is_admin
    ("demo", "demo@hustlehub.invalid", "Demo User", False),
    ("admin", "admin@hustlehub.invalid", "Demo Admin", True),
)


@dataclass(frozen=True, slots=True)
class DevUser:
    username: str
    password: str
    sub: str
    email: str
    display_name: str
    is_admin: bool


@dataclass(frozen=True, slots=True)
class DevPool:
    endpoint: str
    region: str
    pool_id: str
    client_id: str
    jwks_url: str
    issuer: str
    users: dict[str, DevUser] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> DevPool:
        raw = json.loads(text)
        users = {name: DevUser(**user) for name, user in raw.pop("users").items()}
        # The state file carries more than the pool (devmode.state_json): keep the pool's own.
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in known}, users=users)


class _CognitoIdp(Protocol):
    """The few cognito-idp calls made here (types-aiobotocore ships no cognito-idp stubs here)."""

    def create_user_pool(self, **kwargs: Any) -> Awaitable[dict[str, Any]]: ...
    def create_user_pool_client(self, **kwargs: Any) -> Awaitable[dict[str, Any]]: ...
    def create_group(self, **kwargs: Any) -> Awaitable[dict[str, Any]]: ...
    def admin_create_user(self, **kwargs: Any) -> Awaitable[dict[str, Any]]: ...
    def admin_set_user_password(self, **kwargs: Any) -> Awaitable[dict[str, Any]]: ...
    def admin_add_user_to_group(self, **kwargs: Any) -> Awaitable[dict[str, Any]]: ...
    def admin_get_user(self, **kwargs: Any) -> Awaitable[dict[str, Any]]: ...
    def admin_initiate_auth(self, **kwargs: Any) -> Awaitable[dict[str, Any]]: ...


@asynccontextmanager
async def _client(endpoint: str, region: str) -> AsyncIterator[_CognitoIdp]:
    # moto accepts any credentials; fixed dummies keep a developer's real AWS ones out of it.
    async with get_session().create_client(
        "cognito-idp",
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id="dev",
        aws_secret_access_key="dev",  # noqa: S106 - a placeholder moto ignores, not a secret
    ) as client:
        yield cast(_CognitoIdp, client)


def _password() -> str:
    # Satisfies Cognito's default policy (upper, lower, digit, symbol, length >= 8).
    return f"Hh-{secrets.token_urlsafe(12)}-9a"


async def provision_dev_pool(
    endpoint: str, *, region: str = "us-east-1", name: str | None = None
) -> DevPool:
    """Create a fresh pool, an app client and the demo users on moto; return how to use them.

    `name`: the pool's (default: a fresh one each time). A moto run with
    `MOTO_COGNITO_IDP_USER_POOL_ID_STRATEGY=HASH` and `..._CLIENT_ID_STRATEGY=HASH` derives the
    pool's and the client's ids from the requests, so a fixed name gives the same ids on every
    fresh moto of a version: what lets docker-compose.yml name them before they exist."""
    async with _client(endpoint, region) as idp:
        pool = await idp.create_user_pool(
            PoolName=name if name is not None else f"hustlehub-dev-{secrets.token_hex(4)}"
        )
        pool_id: str = pool["UserPool"]["Id"]
        app = await idp.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName="hustlehub-dev",
            GenerateSecret=False,
            # USER_PASSWORD_AUTH: the example browser client signs in itself (clients/web).
            ExplicitAuthFlows=[
                "ALLOW_ADMIN_USER_PASSWORD_AUTH",
                "ALLOW_USER_PASSWORD_AUTH",
                "ALLOW_REFRESH_TOKEN_AUTH",
            ],
        )
        await idp.create_group(UserPoolId=pool_id, GroupName=ADMIN_GROUP)
        users: dict[str, DevUser] = {}
        for username, email, display_name, is_admin in _DEMO_USERS:
            password = _password()
            await idp.admin_create_user(
                UserPoolId=pool_id,
                Username=username,
                MessageAction="SUPPRESS",
                UserAttributes=[
                    {"Name": "email", "Value": email},
                    {"Name": "email_verified", "Value": "true"},
                    {"Name": "name", "Value": display_name},
                ],
            )
            # Permanent: otherwise the first sign-in is a NEW_PASSWORD_REQUIRED challenge.
            await idp.admin_set_user_password(
                UserPoolId=pool_id, Username=username, Password=password, Permanent=True
            )
            if is_admin:
                await idp.admin_add_user_to_group(
                    UserPoolId=pool_id, Username=username, GroupName=ADMIN_GROUP
                )
            got = await idp.admin_get_user(UserPoolId=pool_id, Username=username)
            attributes = {a["Name"]: a["Value"] for a in got["UserAttributes"]}
            users[username] = DevUser(
                username=username,
                password=password,
                sub=attributes["sub"],
                email=email,
                display_name=display_name,
                is_admin=is_admin,
            )
    return DevPool(
        endpoint=endpoint,
        region=region,
        pool_id=pool_id,
        client_id=app["UserPoolClient"]["ClientId"],
        # moto serves the JWKS itself; the issuer in its tokens still names the AWS host.
        jwks_url=f"{endpoint.rstrip('/')}/{pool_id}/.well-known/jwks.json",
        issuer=f"https://cognito-idp.{region}.amazonaws.com/{pool_id}",
        users=users,
    )


async def issue_access_token(pool: DevPool, username: str) -> str:
    """Sign `username` in with its password, as the app's sign-in would; return the access token."""
    user = pool.users[username]
    async with _client(pool.endpoint, pool.region) as idp:
        result = await idp.admin_initiate_auth(
            UserPoolId=pool.pool_id,
            ClientId=pool.client_id,
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": user.username, "PASSWORD": user.password},
        )
    token: str = result["AuthenticationResult"]["AccessToken"]
    return token
