"""Cognito's post-confirmation trigger: create the profile of a user who just signed up.

Deploy `service.aws.registration.handler` as the user pool's PostConfirmation Lambda. It is
idempotent (a conditional put), so Cognito's retries and a later `PUT /v1/me` are both safe.
Cognito expects the event back unchanged.

It follows HUSTLEHUB_MIGRATION__PHASE as the service does: in the two legacy phases the
profile is created in Postgres first (claiming the Supabase user with the confirmed email, if
one is unlinked) and mirrored to DynamoDB, so it needs HUSTLEHUB_MIGRATION__LEGACY_DSN and
asyncpg there. The handler reads the DSN from Secrets Manager (`service.aws.envsecrets`) and
runs with `TriggerSettings`, which do not ask for what only the service uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

from prometheus_client import CollectorRegistry

from metrics.migration import MigrationMetrics
from service.aws import envsecrets
from service.aws.trigger import TriggerSettings
from service.config import Settings
from service.store.client import dynamodb_client
from service.store.observer import NullStoreObserver
from service.store.repositories import UserRepository
from service.store.stores import build_stores, cursor_codec
from service.store.table import Table

# Only sign-ups create a profile; a forgotten-password confirmation also fires this trigger.
_CREATES_PROFILE = {"PostConfirmation_ConfirmSignUp", "PostConfirmation_AdminConfirmSignUp"}


@contextlib.asynccontextmanager
async def _users(settings: Settings) -> AsyncIterator[UserRepository]:
    async with dynamodb_client(settings) as client:
        table = Table.from_settings(client, settings, observer=NullStoreObserver())
        stores = build_stores(table, cursor_codec(settings))
        if not settings.uses_legacy:
            yield stores.users
            return
        from service.transition import legacy_stores  # asyncpg: legacy phases only

        observer = MigrationMetrics(CollectorRegistry())
        async with legacy_stores(settings, stores, table, observer=observer) as phase:
            yield phase.stores.users


async def create_profile(event: dict[str, Any], settings: Settings) -> bool:
    """Create the profile the event describes; True when it did not exist before."""
    if event.get("triggerSource") not in _CREATES_PROFILE:
        return False
    attributes = event["request"]["userAttributes"]
    async with _users(settings) as users:
        _, created = await users.create_profile(
            attributes["sub"],
            email=attributes.get("email", ""),
            display_name=attributes.get("name") or attributes.get("preferred_username") or "",
        )
    return created


async def _invoke(event: dict[str, Any]) -> None:
    # The entry point, like the CLI: the one place the Lambda's environment is written.
    await envsecrets.resolve(os.environ)
    await create_profile(event, TriggerSettings())


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    asyncio.run(_invoke(event))
    return event
