"""The migration's three phases, chosen by `HUSTLEHUB_MIGRATION__PHASE`:

- dual-write: Postgres is the truth (reads and writes); every write also reaches DynamoDB,
  through a transactional outbox when DynamoDB fails.
- dual-read: reads come from DynamoDB first, Postgres when DynamoDB fails, lacks the item or is
  known to be behind, with a shadow comparison of the two; writes as in dual-write.
- dynamodb-only: the service without Postgres.

`wiring.phase_stores` is the one place that turns the phase into repositories.
"""
