"""Fixtures for the metrics tests: a fresh registry per test, never the global one."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from metrics.registry import Metrics


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def metrics(registry: CollectorRegistry) -> Metrics:
    return Metrics(registry)
