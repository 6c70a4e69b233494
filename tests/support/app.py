"""Helpers for tests that drive the app: settings for a test instance, bearer headers."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from service.config import Settings
from tests.support.tokens import CLIENT_ID, POOL_ID, TokenMint

AiohttpClient = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]
AiohttpServer = Callable[[web.Application], Awaitable[TestServer]]
# The suite's `new_table` fixture: a name prefix in, the name of a fresh table on moto out.
NewTable = Callable[[str], Awaitable[str]]


def make_settings(moto_endpoint: str, table: str, mint: TokenMint, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "mode": "test",
        "dynamodb_endpoint": moto_endpoint,
        "table_name": table,
        "redis_url": "redis://127.0.0.1:6379/0",
        "redis_prefix": f"hh-test-{uuid.uuid4().hex[:10]}",
        # moto answers slower than DynamoDB on a loaded machine, and it does not honour
        # ClientRequestToken, so a retried transaction would conflict with its own first try.
        "dynamodb_read_timeout_s": 10.0,
        "dynamodb_call_deadline_s": 20.0,
        "redis_timeout_s": 0.25,
        # A load on a loaded machine's moto can pass the 0.1 s default, and a read that has a
        # stale copy would then answer from it: tests that mean the short wait set it.
        "cache_stale_after_s": 1.0,
        "cognito_user_pool_id": POOL_ID,
        "cognito_app_client_ids": (CLIENT_ID,),
        "cognito_jwks_url": mint.jwks_url,
        **overrides,
    }
    return Settings(**values)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
