"""What the running service needs in the migration's legacy phases, behind this one module.

The phase is `HUSTLEHUB_MIGRATION__PHASE` (settings.migration):

- dual-write: Postgres is the truth (reads and writes); every write also reaches DynamoDB,
  through a transactional outbox when DynamoDB fails.
- dual-read: reads come from DynamoDB first, Postgres when DynamoDB fails, lacks the item or is
  known to be behind, with a shadow comparison of the two; writes as in dual-write.
- dynamodb-only: the service without Postgres; nothing here is imported.

Callers: the composition root (`legacy_phase`, service.runtime.lifecycle), the
post-confirmation Lambda (`legacy_stores`, service.aws.registration) and the operator's
commands (`reconcile`, `link_users`, service.cli). Each imports this package only once the
settings say a legacy phase: importing it imports asyncpg (the `migrate` extra). Inside,
`wiring.phase_stores` is the one place that turns the phase into repositories.
"""

from service.transition.commands import MAX_CONCURRENCY, Drained, link_users, reconcile
from service.transition.legacy.identities import Linked
from service.transition.observer import MigrationObserver
from service.transition.phase import LegacyPhase, legacy_phase, legacy_stores
from service.transition.replicator import Invalidate

__all__ = [
    "MAX_CONCURRENCY",
    "Drained",
    "Invalidate",
    "LegacyPhase",
    "Linked",
    "MigrationObserver",
    "legacy_phase",
    "legacy_stores",
    "link_users",
    "reconcile",
]
