from typing import Any

import pytest
from pydantic import ValidationError

from service.config import Settings


def test_production_refuses_the_development_cursor_secret() -> None:
    with pytest.raises(ValidationError, match="cursor_secret"):
        Settings(mode="production", cognito_app_client_ids=("abc",))


def test_production_refuses_a_plain_http_jwks_url() -> None:
    with pytest.raises(ValidationError, match="https"):
        Settings(
            mode="production",
            cursor_secret="x" * 32,
            cognito_app_client_ids=("abc",),
            cognito_jwks_url="http://127.0.0.1:5000/pool/.well-known/jwks.json",
        )


def test_client_ids_come_from_a_comma_separated_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUSTLEHUB_COGNITO_APP_CLIENT_IDS", "one, two,,three")
    settings = Settings(mode="dev")
    assert settings.cognito_app_client_ids == ("one", "two", "three")


def test_settings_are_frozen() -> None:
    settings = Settings(mode="dev")
    with pytest.raises(ValidationError):
        settings.port = 1  # type: ignore[misc]


def test_stream_invalidation_is_on_in_dev_mode_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(mode="dev").stream_invalidation_enabled
    assert not Settings(mode="test").stream_invalidation_enabled
    production: dict[str, Any] = {"cursor_secret": "x" * 32, "cognito_app_client_ids": ("abc",)}
    assert not Settings(mode="production", **production).stream_invalidation_enabled
    monkeypatch.setenv("HUSTLEHUB_STREAM_INVALIDATION", "true")
    assert Settings(mode="production", **production).stream_invalidation_enabled
    monkeypatch.setenv("HUSTLEHUB_STREAM_INVALIDATION", "false")
    assert not Settings(mode="dev").stream_invalidation_enabled
    monkeypatch.setenv("HUSTLEHUB_STREAM_START_AT", "trim_horizon")
    assert Settings(mode="dev").stream_start_at == "trim_horizon"
    monkeypatch.setenv("HUSTLEHUB_STREAM_START_AT", "yesterday")
    with pytest.raises(ValidationError):
        Settings(mode="dev")


def test_only_worker_slot_0_reads_the_stream_when_redis_carries_its_invalidations() -> None:
    assert Settings(mode="dev", worker_slot=0).stream_invalidation_enabled
    assert not Settings(mode="dev", worker_slot=1).stream_invalidation_enabled
    # Without Redis nothing carries one worker's invalidations to another: each reads.
    assert Settings(mode="dev", worker_slot=1, redis_url=None).stream_invalidation_enabled
