"""Suite-wide fixtures: one moto server (DynamoDB and Cognito over HTTP) per test session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from service.devserver import moto_server


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    with moto_server() as url:
        yield url
