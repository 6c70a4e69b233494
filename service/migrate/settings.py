"""The settings the `hustlehub migrate` commands run with: the service's own (one set of
HUSTLEHUB_* variables, read the same way), less the production checks that only a running
service needs.

A production migration talks to DynamoDB, Cognito's ListUsers and the legacy Postgres; it
signs no cursors and verifies no tokens, so it is not made to set a cursor secret, app client
ids or a JWKS URL. A subclass rather than a class of its own: every field the migration uses
(the endpoint, table, region, timeouts, `migrate_dsn`) stays defined, described and validated
in one place, and `dynamodb_client(settings)` takes it as it is.
"""

from __future__ import annotations

from typing import Self

from pydantic import model_validator

from service.config import Settings


class MigrateSettings(Settings):
    @model_validator(mode="after")
    def _production_is_explicit(self) -> Self:
        # Same name as the service's check, which pydantic replaces with this one.
        return self
