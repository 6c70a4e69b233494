"""Supabase migration metrics: the dual-read shadow comparison and the outbox to DynamoDB.

Implements the migration phases' `MigrationObserver` Protocol (service.transition).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from metrics.labels import OTHER, clamp

# What a dual-read compares: single entities and the two lists the public reads serve.
ENTITIES = frozenset(
    {
        "category",
        "category_list",
        "listing",
        "listing_page",
        "profile",
        "admin_grant",
        "favourite",
        "favourite_page",
    }
)
FALLBACK_REASONS = frozenset({"dynamodb_error", "missing", "behind"})
OUTBOX_OUTCOMES = frozenset({"recorded", "applied", "retried", "dead"})


class MigrationMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self._comparisons = Counter(
            "hustlehub_migration_shadow_comparisons_total",
            "Dual-read answers compared between DynamoDB and the legacy Postgres, by entity.",
            ["entity"],
            registry=registry,
        )
        self._mismatches = Counter(
            "hustlehub_migration_shadow_mismatches_total",
            "Dual-read comparisons whose two answers differed, by entity.",
            ["entity"],
            registry=registry,
        )
        self._fallbacks = Counter(
            "hustlehub_migration_dual_read_fallbacks_total",
            "Dual-read answers served from Postgres instead of DynamoDB, by entity and reason.",
            ["entity", "reason"],
            registry=registry,
        )
        self._outbox = Counter(
            "hustlehub_migration_outbox_entries_total",
            "Outbox entries (entities a legacy write changed) by what happened to them: "
            "recorded, applied to DynamoDB, retried later, or moved to dead letters.",
            ["outcome"],
            registry=registry,
        )
        for entity in sorted(ENTITIES | {OTHER}):
            self._comparisons.labels(entity)
            self._mismatches.labels(entity)
            for reason in sorted(FALLBACK_REASONS):
                self._fallbacks.labels(entity, reason)
        for outcome in sorted(OUTBOX_OUTCOMES):
            self._outbox.labels(outcome)

    def compared(self, entity: str, *, matched: bool) -> None:
        label = clamp(entity, ENTITIES)
        self._comparisons.labels(label).inc()
        if not matched:
            self._mismatches.labels(label).inc()

    def fell_back(self, entity: str, reason: str) -> None:
        self._fallbacks.labels(clamp(entity, ENTITIES), clamp(reason, FALLBACK_REASONS)).inc()

    def outbox(self, outcome: str, count: int = 1) -> None:
        if count:
            self._outbox.labels(clamp(outcome, OUTBOX_OUTCOMES)).inc(count)
