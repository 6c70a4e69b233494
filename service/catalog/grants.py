"""Admin grants: checked before every admin action, given and taken away by admins."""

from __future__ import annotations

from service.errors import Forbidden
from service.store.repositories import UserRepository


class AdminGrants:
    def __init__(self, users: UserRepository) -> None:
        self._users = users

    async def require(self, sub: str) -> None:
        """Forbidden unless `sub` holds an admin grant now."""
        # Strongly consistent (the store reads it so): a revoked grant stops working on the
        # next request.
        if not await self._users.is_admin(sub):
            raise Forbidden("this action needs an admin grant")

    async def grant(self, sub: str, *, actor: str) -> bool:
        """Idempotent; True when this call granted (and audited) it."""
        return await self._users.grant_admin(sub, actor=actor)

    async def revoke(self, sub: str, *, actor: str) -> bool:
        """Idempotent; True when this call revoked (and audited) it."""
        return await self._users.revoke_admin(sub, actor=actor)
