"""What the migration commands stop on. Every one is input a command cannot go on with, said
in one line (`str(exc)`) by the CLI, which exits 2 (service/migrate/cli.py); exit 1 is kept for
a verify that found a mismatch. The vendor error, where there is one, is chained as the cause.
"""

from __future__ import annotations


class Unusable(Exception):
    """Input a migration command cannot go on with."""


class Refused(Unusable):
    """What the operator must decide first: unmapped users, rejected rows, a mapping that gives
    one Cognito user two Supabase users, a target that is not empty."""


class WorkError(Unusable):
    """A file of the working directory is missing, unreadable, or not of the items in it."""


class SourceError(Unusable):
    """The legacy side: a database that cannot be reached or has no Supabase schema, an
    export that cannot be read."""


class TargetError(Unusable):
    """DynamoDB or Cognito: no answer within the bound, no such table or pool, no
    credentials; or a load that stopped on an error the table gave."""
