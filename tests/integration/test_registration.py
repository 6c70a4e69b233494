from __future__ import annotations

import uuid
from typing import Any

from service.aws.registration import create_profile, handler
from service.config import Settings
from service.errors import NotFound
from service.store.client import dynamodb_client
from service.store.cursor import CursorCodec
from service.store.observer import NullStoreObserver
from service.store.table import Table
from service.store.users import UserStore


def _event(sub: str, source: str = "PostConfirmation_ConfirmSignUp") -> dict[str, Any]:
    return {
        "version": "1",
        "triggerSource": source,
        "userPoolId": "us-east-1_Example",
        "userName": "ada",
        "request": {"userAttributes": {"sub": sub, "email": "ada@example.test", "name": "Ada"}},
        "response": {},
    }


async def _profile_exists(settings: Settings, sub: str) -> bool:
    async with dynamodb_client(settings) as client:
        table = Table.from_settings(client, settings, observer=NullStoreObserver())
        users = UserStore(table, CursorCodec(b"x"))
        try:
            profile = await users.get_profile(sub)
        except NotFound:
            return False
        assert profile.email == "ada@example.test"
        assert profile.display_name == "Ada"
        return True


async def test_sign_up_creates_the_profile_once(settings: Settings) -> None:
    sub = str(uuid.uuid4())
    assert not await _profile_exists(settings, sub)
    assert await create_profile(_event(sub), settings) is True
    assert await create_profile(_event(sub), settings) is False  # Cognito retries are safe
    assert await _profile_exists(settings, sub)


async def test_a_password_reset_confirmation_creates_nothing(settings: Settings) -> None:
    sub = str(uuid.uuid4())
    event = _event(sub, "PostConfirmation_ConfirmForgotPassword")
    assert await create_profile(event, settings) is False
    assert not await _profile_exists(settings, sub)


def test_the_lambda_handler_returns_the_event_unchanged(
    settings: Settings, monkeypatch: Any
) -> None:
    for name, value in {
        "HUSTLEHUB_MODE": "test",
        "HUSTLEHUB_DYNAMODB_ENDPOINT": settings.dynamodb_endpoint or "",
        "HUSTLEHUB_TABLE_NAME": settings.table_name,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }.items():
        monkeypatch.setenv(name, value)
    event = _event(str(uuid.uuid4()))
    assert handler(event, None) == event
