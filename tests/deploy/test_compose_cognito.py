"""The compose stack's Cognito emulator, checked without a Docker engine: the file as Compose
reads it, and the stack's init step (`hustlehub dev-pool`) run against a moto server started
here as the compose file starts its emulator, with the ids that derives checked against the
ones the service's environment names, and a sign-in through them."""

from __future__ import annotations

import importlib.metadata
from collections.abc import AsyncIterator
from typing import Any

import pytest

from service.app import create_app
from service.cli import cmd_dev_pool, parser
from service.config import Settings
from service.dev.devmode import prepare_pool
from service.dev.devpool import DevPool, issue_access_token
from service.dev.devserver import moto_server_async
from tests.deploy.compose import command, depends_on, ports
from tests.support import infra
from tests.support.app import AiohttpClient, NewTable, bearer

EMULATOR = "http://cognito:5000"


def _option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_the_emulator_is_the_dev_modes_moto_making_ids_from_the_requests(
    stack: dict[str, Any],
) -> None:
    cognito = stack["services"]["cognito"]
    # The version the ids below were derived with, which the test against moto runs.
    assert cognito["image"] == f"motoserver/moto:{importlib.metadata.version('moto')}"
    env = cognito["environment"]
    assert env["MOTO_COGNITO_IDP_USER_POOL_ID_STRATEGY"] == "HASH"
    assert env["MOTO_COGNITO_IDP_USER_POOL_CLIENT_ID_STRATEGY"] == "HASH"
    assert [(p.host_ip, p.published, p.target) for p in ports(cognito)] == [
        ("127.0.0.1", 5000, 5000)
    ]


def test_the_init_runs_the_dev_code_before_the_service_starts(stack: dict[str, Any]) -> None:
    services = stack["services"]
    init = services["cognito-init"]
    argv = command(init)
    assert argv[0] == "dev-pool"
    args = parser().parse_args(argv)
    assert args.func is cmd_dev_pool  # which calls service.dev.devmode.prepare_pool
    assert args.endpoint == EMULATOR
    assert init["build"]["target"] == "runtime"
    assert init["environment"] == services["service"]["environment"]
    assert depends_on(init) == {
        "cognito": "service_healthy",
        "seed": "service_completed_successfully",  # the table its users are registered in
    }
    assert depends_on(services["service"])["cognito-init"] == "service_completed_successfully"


def test_the_service_takes_its_keys_from_the_emulator(stack: dict[str, Any]) -> None:
    env = stack["services"]["service"]["environment"]
    pool_id = env["HUSTLEHUB_COGNITO_USER_POOL_ID"]
    assert env["HUSTLEHUB_COGNITO_JWKS_URL"] == f"{EMULATOR}/{pool_id}/.well-known/jwks.json"
    assert env["HUSTLEHUB_MODE"] == "dev"  # moto's signing key is accepted outside production
    settings = Settings(
        mode="dev",
        cognito_user_pool_id=pool_id,
        cognito_app_client_ids=env["HUSTLEHUB_COGNITO_APP_CLIENT_IDS"],
        cognito_jwks_url=env["HUSTLEHUB_COGNITO_JWKS_URL"],
    )
    # The issuer is derived: the pool's AWS one, which moto's tokens name.
    assert settings.cognito_issuer == f"https://cognito-idp.us-east-1.amazonaws.com/{pool_id}"


@pytest.fixture
@infra.needs(infra.SUBPROCESS)
async def emulator(monkeypatch: pytest.MonkeyPatch, stack: dict[str, Any]) -> AsyncIterator[str]:
    """moto's server with the compose emulator's environment."""
    for name, value in stack["services"]["cognito"]["environment"].items():
        monkeypatch.setenv(name, str(value))
    async with moto_server_async() as url:
        yield url


async def test_the_init_makes_the_pool_the_service_names_and_its_users_sign_in(
    emulator: str,
    stack: dict[str, Any],
    new_table: NewTable,
    moto_endpoint: str,
    aiohttp_client: AiohttpClient,
) -> None:
    services = stack["services"]
    env = services["service"]["environment"]
    name = _option(command(services["cognito-init"]), "--name")
    settings = Settings(
        mode="dev",
        dynamodb_endpoint=moto_endpoint,
        table_name=await new_table("hh-compose"),
        redis_url=None,
        stream_invalidation=False,
        dynamodb_read_timeout_s=10.0,
        dynamodb_call_deadline_s=20.0,
    )
    pool: DevPool = await prepare_pool(settings, endpoint=emulator, name=name)
    assert pool.pool_id == env["HUSTLEHUB_COGNITO_USER_POOL_ID"]
    assert (pool.client_id,) == tuple(env["HUSTLEHUB_COGNITO_APP_CLIENT_IDS"].split(","))
    assert pool.jwks_url.replace(emulator, EMULATOR) == env["HUSTLEHUB_COGNITO_JWKS_URL"]

    # The service as compose configures it, its emulator here instead of at cognito:5000.
    served = settings.model_copy(
        update={
            "cognito_user_pool_id": env["HUSTLEHUB_COGNITO_USER_POOL_ID"],
            "cognito_app_client_ids": (pool.client_id,),
            "cognito_jwks_url": env["HUSTLEHUB_COGNITO_JWKS_URL"].replace(EMULATOR, emulator),
        }
    )
    client = await aiohttp_client(create_app(served))
    demo = await issue_access_token(pool, "demo")
    response = await client.get("/v1/me", headers=bearer(demo))
    assert response.status == 200, await response.text()
    assert (await response.json())["email"] == pool.users["demo"].email
    admin = await issue_access_token(pool, "admin")
    response = await client.get("/v1/admin/audit", headers=bearer(admin))
    assert response.status == 200, await response.text()
    response = await client.get("/v1/admin/audit", headers=bearer(demo))
    assert response.status == 403
