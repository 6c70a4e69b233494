"""Cognito's post-confirmation trigger: create the profile of a user who just signed up.

Deploy `service.registration.handler` as the user pool's PostConfirmation Lambda. It is
idempotent (a conditional put), so Cognito's retries and a later `PUT /v1/me` are both safe.
Cognito expects the event back unchanged.
"""

from __future__ import annotations

import asyncio
from typing import Any

from service.config import Settings
from service.store.client import dynamodb_client
from service.store.cursor import CursorCodec
from service.store.observer import NullStoreObserver
from service.store.table import Table
from service.store.users import UserStore

# Only sign-ups create a profile; a forgotten-password confirmation also fires this trigger.
_CREATES_PROFILE = {"PostConfirmation_ConfirmSignUp", "PostConfirmation_AdminConfirmSignUp"}


async def create_profile(event: dict[str, Any], settings: Settings) -> bool:
    """Create the profile the event describes; True when it did not exist before."""
    if event.get("triggerSource") not in _CREATES_PROFILE:
        return False
    attributes = event["request"]["userAttributes"]
    async with dynamodb_client(settings) as client:
        table = Table.from_settings(client, settings, observer=NullStoreObserver())
        users = UserStore(table, CursorCodec(settings.cursor_secret.get_secret_value().encode()))
        _, created = await users.create_profile(
            attributes["sub"],
            email=attributes.get("email", ""),
            display_name=attributes.get("name") or attributes.get("preferred_username") or "",
        )
    return created


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    asyncio.run(create_profile(event, Settings()))
    return event
