"""User profiles and admin grants, both in the user's partition and both read consistently:
they decide what a signed-in caller may do."""

from __future__ import annotations

from datetime import datetime

from service.errors import NotFound
from service.models.audit import grant_event
from service.models.user import UserProfile
from service.store import audit, keys, versions
from service.store.batch import batch_get
from service.store.codec import Item, load, to_item
from service.store.common import Repository, get_item
from service.store.table import ConditionFailed
from service.store.txn import ControlFlow, Transaction


class _Unchanged(ControlFlow):
    """The grant was already as asked: nothing to write or audit."""


def profile_item(profile: UserProfile) -> Item:
    attrs = profile.model_dump(by_alias=True, exclude={"is_admin"})
    stamp = versions.stamp(versions.CURRENT)  # nothing of a profile changed with a version
    return {**keys.user(profile.sub), **to_item({"type": "User", **attrs, **stamp})}


def admin_item(sub: str, granted_at: datetime, actor: str) -> Item:
    attrs = {
        "type": "Admin",
        "sub": sub,
        "grantedAt": granted_at,
        "grantedBy": actor,
        **versions.stamp(versions.CURRENT),
    }
    return {**keys.admin(sub), **to_item({**attrs, **keys.admin_index(sub)})}


class UserStore(Repository):
    async def create_profile(
        self, sub: str, *, email: str, display_name: str
    ) -> tuple[UserProfile, bool]:
        """Idempotent: an existing profile is returned untouched, with created=False."""
        profile = UserProfile(
            sub=sub, email=email, display_name=display_name, created_at=self._clock()
        )
        try:
            await self._table.call(
                "PutItem",
                Item=profile_item(profile),
                ConditionExpression="attribute_not_exists(PK)",
            )
        except ConditionFailed:
            return await self.get_profile(sub), False
        return profile.model_copy(update={"is_admin": await self.is_admin(sub)}), True

    async def get_profile(self, sub: str) -> UserProfile:
        found = await batch_get(self._table, [keys.user(sub), keys.admin(sub)], consistent=True)
        by_sk = {item[keys.SK]["S"]: item for item in found}
        profile = by_sk.get(keys.user(sub)[keys.SK]["S"])
        if profile is None:
            raise NotFound(f"no profile for {sub!r}")
        return load(UserProfile, profile, is_admin=keys.ADMIN_SK in by_sk)

    async def update_display_name(self, sub: str, name: str) -> UserProfile:
        try:
            response = await self._table.call(
                "UpdateItem",
                Key=keys.user(sub),
                UpdateExpression="SET displayName = :name",
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeValues={":name": {"S": name}},
                ReturnValues="ALL_NEW",
            )
        except ConditionFailed as exc:
            raise NotFound(f"no profile for {sub!r}") from exc
        return load(UserProfile, response["Attributes"], is_admin=await self.is_admin(sub))

    async def is_admin(self, sub: str) -> bool:
        return await get_item(self._table, keys.admin(sub), consistent=True) is not None

    async def grant_admin(self, sub: str, *, actor: str) -> bool:
        """Idempotent; True when this call granted (and audited) it."""
        now = self._clock()
        txn = Transaction()
        txn.put(
            admin_item(sub, now, actor),
            condition="attribute_not_exists(PK)",
            on_fail=lambda _r: _Unchanged(),
        )
        audit.record(txn, grant_event("grant", sub, at=now, actor=actor), self._rules)
        return await self._commit(txn)

    async def revoke_admin(self, sub: str, *, actor: str) -> bool:
        """Idempotent; True when this call revoked (and audited) it."""
        txn = Transaction()
        txn.delete(
            keys.admin(sub), condition="attribute_exists(PK)", on_fail=lambda _r: _Unchanged()
        )
        audit.record(txn, grant_event("revoke", sub, at=self._clock(), actor=actor), self._rules)
        return await self._commit(txn)

    async def _commit(self, txn: Transaction) -> bool:
        try:
            await txn.commit(self._table)
        except _Unchanged:
            return False
        return True
