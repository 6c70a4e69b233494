"""Structured logs: one JSON object a line in production, readable lines in dev, a level, one
event per exception, the request's id, and never a secret."""

from __future__ import annotations

import json
import logging

from metrics import waits
from service.config import Settings
from service.runtime import logs
from tests.support.logcapture import captured_logs

log = logging.getLogger("hustlehub.test")

# A real token's shape (header.payload.signature, base64url JSON), not a real token.
JWT = (
    "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0."
    "eyJzdWIiOiJ1c2VyLTEiLCJ0b2tlbl91c2UiOiJhY2Nlc3MifQ."
    "c2lnbmF0dXJlLWJ5dGVzLWhlcmU"
)


def test_json_lines_are_one_object_each_with_level_logger_and_time() -> None:
    with captured_logs(level="info") as lines:
        log.info("cache warmed for %s", "categories", extra={"entries": 3})
        log.debug("not at info")
    (event,) = lines.events()
    assert event["event"] == "cache warmed for categories"
    assert event["level"] == "info"
    assert event["logger"] == "hustlehub.test"
    assert event["entries"] == 3
    assert event["time"].endswith("Z")


def test_an_exception_is_one_event_with_its_traceback_inside() -> None:
    with captured_logs(level="info") as lines:
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("unhandled error on GET /v1/categories")
    assert len(lines.text.strip().splitlines()) == 1
    (event,) = lines.events()
    assert event["level"] == "error"
    assert "Traceback (most recent call last)" in event["exception"]
    assert "ValueError: boom" in event["exception"]


def test_console_output_is_readable_text_not_json() -> None:
    with captured_logs(level="warning", renderer="console") as lines:
        log.info("dropped below warning")
        log.warning("redis breaker open", extra={"layer": "redis"})
    text = lines.text
    assert "redis breaker open" in text
    assert "layer=redis" in text
    assert "dropped below warning" not in text
    assert not text.lstrip().startswith("{")


def test_the_level_setting_filters() -> None:
    with captured_logs(level="error") as lines:
        log.warning("quiet")
        log.error("loud")
    assert [e["event"] for e in lines.events()] == ["loud"]


def test_a_line_written_inside_a_request_names_it() -> None:
    with captured_logs() as lines:
        token = waits.begin("req-abc")
        log.info("inside")
        waits.end(token)
        log.info("outside")
    inside, outside = lines.events()
    assert inside["request_id"] == "req-abc"
    assert "request_id" not in outside


def test_no_secret_or_token_is_ever_written() -> None:
    cursor_secret = "cursor-secret-of-this-deployment"
    dsn = "postgresql://app:pg-password-123@db.internal:5432/hustle"
    with captured_logs(secrets=(cursor_secret, dsn)) as lines:
        log.info("token %s refused", JWT)
        log.info("header Authorization: Bearer %s", "opaque-credential-value")
        log.info("connecting to %s", dsn)
        log.info("key is %s", cursor_secret)
        log.info(
            "fields",
            extra={"authorization": f"Bearer {JWT}", "token": "x", "nested": {"password": "p"}},
        )
        try:
            raise RuntimeError(f"verification failed for {JWT}")
        except RuntimeError:
            log.exception("auth failed")
    text = lines.text
    for secret in (JWT, "opaque-credential-value", "pg-password-123", cursor_secret, '"p"'):
        assert secret not in text, secret
    assert text.count(logs.REDACTED) >= 7
    assert all(json.loads(line) for line in text.splitlines())


def test_the_settings_secrets_are_redacted_by_configure_from() -> None:
    settings = Settings(
        mode="test",
        cursor_secret="a-cursor-secret-nobody-logs",
        migrate_dsn="postgresql://u:dsn-pass-word@h/db",
    )
    assert "a-cursor-secret-nobody-logs" in logs._secrets_of(settings)
    assert (
        logs.Redactor(logs._secrets_of(settings)).text("k=a-cursor-secret-nobody-logs")
        == f"k={logs.REDACTED}"
    )


def test_the_start_up_line_says_what_runs() -> None:
    settings = Settings(mode="test", redis_url="redis://127.0.0.1:6379/0", workers=2)
    fields = logs.startup_fields(settings, port=8080)
    assert fields["mode"] == "test"
    assert fields["port"] == 8080
    assert fields["workers"] == 2
    assert fields["migration_phase"] == "dynamodb-only"
    assert fields["cache_layers"] == ["memory", "redis"]
    assert fields["version"] == logs.service_version()
    assert Settings(mode="test").log_renderer == "console"
    assert Settings(mode="test", log_format="json").log_renderer == "json"
