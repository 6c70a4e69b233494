from typing import Any

import pytest
from pydantic import SecretStr, ValidationError
from pydantic_settings import SettingsError

from service.config import MigrationSettings, Settings


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


# The migration's run-time settings: one nested block, HUSTLEHUB_MIGRATION__<FIELD>.
MIGRATION_VARIABLES: dict[str, tuple[str, str, object]] = {
    "HUSTLEHUB_MIGRATION__PHASE": ("phase", "dual-read", "dual-read"),
    "HUSTLEHUB_MIGRATION__LEGACY_DSN": ("legacy_dsn", "postgresql://db/x", "postgresql://db/x"),
    "HUSTLEHUB_MIGRATION__LEGACY_POOL_MAX_SIZE": ("legacy_pool_max_size", "7", 7),
    "HUSTLEHUB_MIGRATION__LEGACY_COMMAND_TIMEOUT_S": ("legacy_command_timeout_s", "3.5", 3.5),
    "HUSTLEHUB_MIGRATION__RECONCILE_INTERVAL_S": ("reconcile_interval_s", "2.5", 2.5),
    "HUSTLEHUB_MIGRATION__RETRY_BASE_S": ("retry_base_s", "0.75", 0.75),
    "HUSTLEHUB_MIGRATION__RETRY_CAP_S": ("retry_cap_s", "30", 30.0),
    "HUSTLEHUB_MIGRATION__MAX_ATTEMPTS": ("max_attempts", "4", 4),
    "HUSTLEHUB_MIGRATION__PUSH_TIMEOUT_S": ("push_timeout_s", "0.5", 0.5),
    "HUSTLEHUB_MIGRATION__SHADOW_TIMEOUT_S": ("shadow_timeout_s", "0.125", 0.125),
}


def test_the_migration_block_is_read_from_its_nested_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert {attribute for attribute, _, _ in MIGRATION_VARIABLES.values()} == set(
        MigrationSettings.model_fields
    )
    for name, (_, raw, _) in MIGRATION_VARIABLES.items():
        monkeypatch.setenv(name, raw)
    settings = Settings(mode="test")
    for attribute, _, expected in MIGRATION_VARIABLES.values():
        value = getattr(settings.migration, attribute)
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        assert value == expected, attribute
    assert settings.uses_legacy
    with pytest.raises(ValidationError):
        settings.migration.phase = "dynamodb-only"  # type: ignore[misc]


def test_the_offline_tools_dsn_stays_a_flat_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUSTLEHUB_MIGRATE_DSN", "postgresql://supabase/x")
    settings = Settings(mode="test")
    assert settings.migrate_dsn is not None
    assert settings.migrate_dsn.get_secret_value() == "postgresql://supabase/x"
    assert not settings.uses_legacy


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("HUSTLEHUB_MIGRATION_PHASE", "HUSTLEHUB_MIGRATION__PHASE"),
        ("HUSTLEHUB_LEGACY_DSN", "HUSTLEHUB_MIGRATION__LEGACY_DSN"),
        ("HUSTLEHUB_MIGRATION_SHADOW_TIMEOUT_S", "HUSTLEHUB_MIGRATION__SHADOW_TIMEOUT_S"),
        ("hustlehub_migration_max_attempts", "HUSTLEHUB_MIGRATION__MAX_ATTEMPTS"),
    ],
)
def test_a_renamed_migration_variable_is_refused_not_ignored(
    monkeypatch: pytest.MonkeyPatch, old: str, new: str
) -> None:
    # Ignored, HUSTLEHUB_MIGRATION_PHASE=dual-write would start a dynamodb-only service.
    monkeypatch.setenv(old, "1")
    with pytest.raises(SettingsError, match=f"{old.upper()} is now {new}"):
        Settings(mode="test")


def test_the_migration_block_refuses_a_field_it_does_not_have(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HUSTLEHUB_MIGRATION__PHASES", "dual-write")
    with pytest.raises(ValidationError, match="phases"):
        Settings(mode="test")


def test_every_setting_says_what_it_does_in_one_sentence() -> None:
    # docs/configuration.md is generated from these.
    for model in (Settings, MigrationSettings):
        for name, field in model.model_fields.items():
            text = field.description or ""
            assert text.endswith("."), f"{model.__name__}.{name}: {text!r}"
            assert ". " not in text, f"{model.__name__}.{name}: one sentence, {text!r}"
            assert text[0].isupper() or text[0] in "`(", f"{model.__name__}.{name}: {text!r}"
