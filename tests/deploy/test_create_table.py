"""`hustlehub create-table --wait S`, the compose stack's `init` one-shot: it creates the table
once, and keeps trying, within its bound, while the database does not listen yet."""

from __future__ import annotations

import time
import uuid

import pytest
from botocore.exceptions import EndpointConnectionError

from service.cli import main
from service.dev.devserver import free_port


def _environment(monkeypatch: pytest.MonkeyPatch, endpoint: str, table: str) -> None:
    for name, value in {
        "HUSTLEHUB_MODE": "test",
        "HUSTLEHUB_DYNAMODB_ENDPOINT": endpoint,
        "HUSTLEHUB_TABLE_NAME": table,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }.items():
        monkeypatch.setenv(name, value)


def test_create_table_creates_once(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    table = f"hh-cli-{uuid.uuid4().hex[:8]}"
    _environment(monkeypatch, moto_endpoint, table)
    main(["create-table", "--wait", "5"])
    main(["create-table"])
    assert capsys.readouterr().out.splitlines() == [
        f"table {table}: created",
        f"table {table}: already there",
    ]


def test_create_table_waits_within_its_bound_then_fails(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _environment(monkeypatch, f"http://127.0.0.1:{free_port()}", "hh-cli-nowhere")
    started = time.monotonic()
    with pytest.raises(EndpointConnectionError):
        main(["create-table", "--wait", "3.5"])
    elapsed = time.monotonic() - started
    waited = capsys.readouterr().err.count("waiting for DynamoDB")
    assert waited >= 2
    assert 2.0 <= elapsed < 15
