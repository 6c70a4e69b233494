"""Suite-wide fixtures: one moto server (DynamoDB and Cognito over HTTP) per test session and
the one way to make a table on it; the real app over HTTP (aiohttp_client) on a session table,
the machine's Redis under a prefix of each test's own, and a token mint whose JWKS is served
over HTTP.

Every test is marked by the infrastructure it needs (tests/support/infra.py): here each test
gets the markers of the fixtures it requests, and the guard holds it to them.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Generator, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp.test_utils import TestClient

from service.app import create_app
from service.config import Settings
from service.dev.devserver import moto_server
from service.runtime.appkeys import STORES
from service.store.client import dynamodb_client
from service.store.schema import ensure_table
from tests.support import infra
from tests.support.app import AiohttpClient, NewTable, make_settings
from tests.support.prometheus_tools import Tools, find_or_install
from tests.support.tokens import TokenMint


def pytest_configure(config: pytest.Config) -> None:
    infra.install(config)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # tryfirst: the markers must be on the items before `-m` deselects by them.
    infra.mark_by_fixtures(items)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from infra.watched(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from infra.watched(item))


@pytest.fixture(scope="session")
@infra.needs(infra.DYNAMODB)
def moto_endpoint(pytestconfig: pytest.Config) -> Iterator[str]:
    with moto_server() as url:
        port = urlsplit(url).port
        assert port is not None
        infra.guard(pytestconfig).serves(infra.DYNAMODB, port)
        yield url


@pytest.fixture(scope="session")
def new_table(moto_endpoint: str) -> NewTable:
    """Creates a table of the caller's own on the moto server (`await new_table("hh-api")`)
    and returns its name: a fixture of any scope makes its table with it."""

    async def create(prefix: str) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        # The bounds the test apps get (tests/support/app.py): moto slows down under load.
        settings = Settings(
            mode="test",
            dynamodb_endpoint=moto_endpoint,
            table_name=name,
            dynamodb_read_timeout_s=10.0,
            dynamodb_call_deadline_s=20.0,
        )
        async with dynamodb_client(settings) as client:
            await ensure_table(client, name, production=False)
        return name

    return create


@pytest.fixture(scope="session")
@infra.needs(infra.PROMETHEUS)
def prometheus_tools() -> Tools:
    # No skip when missing: an untested alert rule or dashboard query is a broken one we have
    # not noticed.
    return find_or_install()


@pytest.fixture(scope="session")
async def mint() -> AsyncIterator[TokenMint]:
    token_mint = TokenMint()
    await token_mint.start()
    yield token_mint
    await token_mint.close()


@pytest.fixture(scope="session")
async def api_table(new_table: NewTable) -> str:
    return await new_table("hh-api")


@pytest.fixture
@infra.needs(infra.REDIS)  # the app they configure caches in the machine's Redis
def settings(moto_endpoint: str, api_table: str, mint: TokenMint) -> Settings:
    return make_settings(moto_endpoint, api_table, mint)


@pytest.fixture
async def client(aiohttp_client: AiohttpClient, settings: Settings) -> TestClient[Any, Any]:
    return await aiohttp_client(create_app(settings))


@pytest.fixture
async def admin_token(client: TestClient[Any, Any], mint: TokenMint) -> str:
    sub = f"admin-{uuid.uuid4()}"
    await client.app[STORES].users.grant_admin(sub, actor="test-setup")
    return mint.token(sub)


@pytest.fixture
def user_token(mint: TokenMint) -> str:
    return mint.token(f"user-{uuid.uuid4()}")
