"""The signed-in user's own profile: read it, or create it on first use."""

from __future__ import annotations

from service.models.user import UserProfile
from service.store.repositories import UserRepository


class Profiles:
    def __init__(self, users: UserRepository) -> None:
        self._users = users

    async def get(self, sub: str) -> UserProfile:
        return await self._users.get_profile(sub)

    async def ensure(self, sub: str, *, display_name: str | None) -> tuple[UserProfile, bool]:
        """`sub`'s profile, created if absent (True when this call created it), with its
        display name set to `display_name` unless that is None."""
        # An access token carries no email claim (Cognito puts it in the ID token); the
        # post-confirmation Lambda records the email (service.aws.registration).
        profile, created = await self._users.create_profile(
            sub, email="", display_name=display_name or ""
        )
        if display_name is not None and not created and profile.display_name != display_name:
            profile = await self._users.update_display_name(sub, display_name)
        return profile, created
