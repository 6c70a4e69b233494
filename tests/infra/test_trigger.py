"""The trigger's side of the deployment: it reads the secrets the stack names (SECRET_ARNS)
from Secrets Manager, here moto's, and runs without the settings only the service needs."""

from __future__ import annotations

import json
import uuid

import pytest
from aiobotocore.session import get_session
from botocore.exceptions import ClientError
from pydantic import ValidationError

from service.aws import envsecrets
from service.aws.trigger import TriggerSettings
from service.config import Settings

LEGACY_DSN = "HUSTLEHUB_MIGRATION__LEGACY_DSN"


@pytest.fixture
def moto_secrets(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    # botocore's endpoint for one service, from the environment as on any machine.
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    return moto_endpoint


async def _secret(value: str) -> str:
    async with get_session().create_client("secretsmanager", region_name="eu-west-1") as client:
        created = await client.create_secret(Name=f"dsn-{uuid.uuid4().hex}", SecretString=value)
    return str(created["ARN"])


async def test_the_named_secrets_become_the_variables_settings_read(moto_secrets: str) -> None:
    dsn = "postgresql://postgres@db.example.test:5432/postgres"
    arn = await _secret(dsn)
    environ = {envsecrets.SECRET_ARNS: json.dumps({LEGACY_DSN: arn}), "OTHER": "kept"}
    await envsecrets.resolve(environ)
    assert environ[LEGACY_DSN] == dsn
    assert environ["OTHER"] == "kept"


async def test_no_secrets_named_means_no_call(moto_secrets: str) -> None:
    # The dynamodb-only phase: the stack sets "{}".
    for raw in ("{}", ""):
        environ = {envsecrets.SECRET_ARNS: raw}
        await envsecrets.resolve(environ)
        assert environ == {envsecrets.SECRET_ARNS: raw}


async def test_a_secret_that_cannot_be_read_fails_the_invocation(moto_secrets: str) -> None:
    missing = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:absent-AbCdEf"
    with pytest.raises(ClientError, match="ResourceNotFound"):
        await envsecrets.resolve({envsecrets.SECRET_ARNS: json.dumps({LEGACY_DSN: missing})})


@pytest.mark.parametrize("raw", ['["arn:aws:x"]', '{"A": 1}', '{"A": "not-an-arn"}'])
def test_a_malformed_list_is_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="SECRET_ARNS"):
        envsecrets.wanted(raw)


def test_the_trigger_needs_neither_the_cursor_secret_nor_client_ids(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HUSTLEHUB_CURSOR_SECRET", "HUSTLEHUB_COGNITO_APP_CLIENT_IDS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HUSTLEHUB_MODE", "production")
    monkeypatch.setenv("HUSTLEHUB_TABLE_NAME", "HustleHubDirectory-prod")
    with pytest.raises(ValidationError):
        Settings()  # the service refuses to start like this
    assert TriggerSettings().table_name == "HustleHubDirectory-prod"
