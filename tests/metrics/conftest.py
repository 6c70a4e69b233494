"""Fixtures for the metrics tests: a fresh registry per test, never the global one."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from metrics.registry import Metrics
from tests.support.prometheus_tools import Tools, find_or_install


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def metrics(registry: CollectorRegistry) -> Metrics:
    return Metrics(registry)


@pytest.fixture(scope="session")
def prometheus_tools() -> Tools:
    # No skip when missing: an untested alert rule is a broken one we have not noticed.
    return find_or_install()
