"""Bad settings: every one named on a line of its own as its variable, no traceback, never a
secret's value, exit 2; and the migration commands' settings leave out the service's own
production checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from service.config import Settings
from service.migrate.settings import MigrateSettings

pytestmark = [pytest.mark.subprocess]

ROOT = Path(__file__).resolve().parents[2]
SECRET = "s3cr3t-abc"  # short enough for pydantic to have shown it in full


def _hustlehub(*argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HUSTLEHUB_")}
    return subprocess.run(
        [sys.executable, "-m", "service", *argv],
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_every_production_problem_is_one_line_and_the_secret_is_not_shown() -> None:
    done = _hustlehub(
        "serve",
        HUSTLEHUB_MODE="production",
        HUSTLEHUB_CURSOR_SECRET=SECRET,
        HUSTLEHUB_COGNITO_JWKS_URL="http://127.0.0.1:9/jwks.json",
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "HUSTLEHUB_COGNITO_APP_CLIENT_IDS: must be set in production",
        "HUSTLEHUB_COGNITO_JWKS_URL: must be https in production",
    ]
    assert SECRET not in done.stdout + done.stderr


def test_every_bad_field_is_named_at_once() -> None:
    done = _hustlehub(
        "create-table",
        HUSTLEHUB_MODE="test",
        HUSTLEHUB_PORT="99999",
        HUSTLEHUB_WORKERS="many",
        HUSTLEHUB_CURSOR_SECRET=SECRET,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "HUSTLEHUB_PORT: Input should be less than or equal to 65535",
        "HUSTLEHUB_WORKERS: Input should be a valid integer, unable to parse string as an integer",
    ]
    assert "Traceback" not in done.stderr


def test_the_migrate_commands_name_bad_settings_the_same_way() -> None:
    done = _hustlehub(
        "migrate", "rollback", "--batch", "b", HUSTLEHUB_MODE="production",
        HUSTLEHUB_DYNAMODB_CALL_DEADLINE_S="soon",
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "HUSTLEHUB_DYNAMODB_CALL_DEADLINE_S: Input should be a valid number, unable to parse "
        "string as a number"
    ]


def test_both_missing_production_settings_are_named_together() -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(mode="production")
    assert [e["loc"] for e in raised.value.errors()] == [
        ("cursor_secret",),
        ("cognito_app_client_ids",),
    ]


def test_the_migration_commands_need_no_cursor_secret_or_client_ids() -> None:
    settings = MigrateSettings(mode="production", table_name="T")
    assert settings.mode == "production"
    assert settings.table_name == "T"
    with pytest.raises(ValidationError):
        MigrateSettings(mode="production", port=-1)  # the fields are still validated
