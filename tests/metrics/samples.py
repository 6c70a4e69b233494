"""Reading what a registry would expose, for assertions."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

Labels = frozenset[tuple[str, str]]


def series(registry: CollectorRegistry, sample_name: str) -> dict[Labels, float]:
    """Every sample called `sample_name`, by its label set."""
    return {
        frozenset(sample.labels.items()): sample.value
        for family in registry.collect()
        for sample in family.samples
        if sample.name == sample_name
    }


def label_values(registry: CollectorRegistry, sample_name: str, label: str) -> set[str]:
    return {dict(labels)[label] for labels in series(registry, sample_name)}


def load_yaml(path: Path) -> Any:
    # PyYAML comes with the test dependencies (moto) but without type stubs, and mypy is
    # configured to ignore missing imports only for a few packages: import it dynamically.
    yaml = importlib.import_module("yaml")
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def ok_calls(registry: CollectorRegistry, operation: str) -> float:
    """DynamoDB `operation` calls that succeeded so far (0 before the first)."""
    value = registry.get_sample_value(
        "hustlehub_dynamodb_requests_total", {"operation": operation, "outcome": "ok"}
    )
    return value or 0.0
