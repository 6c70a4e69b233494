"""The migration metrics keep their labels in bounded sets and start at zero."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from metrics.migration import ENTITIES, MigrationMetrics


def test_labels_are_clamped_and_known_series_start_at_zero() -> None:
    registry = CollectorRegistry()
    migration = MigrationMetrics(registry)
    for entity in ENTITIES:
        assert (
            registry.get_sample_value(
                "hustlehub_migration_shadow_mismatches_total", {"entity": entity}
            )
            == 0
        )
    for index in range(500):
        migration.compared(f"entity-{index}", matched=index % 2 == 0)
        migration.fell_back("listing", f"reason-{index}")
        migration.outbox(f"outcome-{index}")
    series = {
        (metric.name, tuple(sorted(sample.labels.items())))
        for metric in registry.collect()
        for sample in metric.samples
        if metric.name.startswith("hustlehub_migration_")
    }
    assert len(series) < 100

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert value("hustlehub_migration_shadow_comparisons_total", entity="other") == 500
    assert value("hustlehub_migration_shadow_mismatches_total", entity="other") == 250
    assert (
        value("hustlehub_migration_dual_read_fallbacks_total", entity="listing", reason="other")
        == 500
    )
    assert value("hustlehub_migration_outbox_entries_total", outcome="other") == 500
