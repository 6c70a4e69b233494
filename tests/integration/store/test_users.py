from __future__ import annotations

import pytest

from service.errors import NotFound
from service.store.stores import Stores
from tests.integration.store.support import unique

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_create_profile_is_idempotent(stores: Stores) -> None:
    sub = unique("sub")
    profile, created = await stores.users.create_profile(sub, email="a@x.io", display_name="Ann")
    assert created
    again, created_again = await stores.users.create_profile(
        sub, email="other@x.io", display_name="Other"
    )
    assert not created_again
    assert again == profile  # the first write stands
    assert await stores.users.get_profile(sub) == profile


async def test_unknown_profile_is_not_found(stores: Stores) -> None:
    with pytest.raises(NotFound):
        await stores.users.get_profile(unique("sub"))
    with pytest.raises(NotFound):
        await stores.users.update_display_name(unique("sub"), "Bob")


async def test_update_display_name(stores: Stores) -> None:
    sub = unique("sub")
    await stores.users.create_profile(sub, email="a@x.io", display_name="Ann")
    updated = await stores.users.update_display_name(sub, "Annie")
    assert updated.display_name == "Annie"
    assert (await stores.users.get_profile(sub)).display_name == "Annie"


async def test_admin_grant_revoke_and_check(stores: Stores) -> None:
    sub = unique("sub")
    await stores.users.create_profile(sub, email="a@x.io", display_name="Ann")
    assert not await stores.users.is_admin(sub)
    assert await stores.users.grant_admin(sub, actor="root")
    assert not await stores.users.grant_admin(sub, actor="root")  # idempotent
    assert await stores.users.is_admin(sub)
    assert (await stores.users.get_profile(sub)).is_admin
    assert await stores.users.revoke_admin(sub, actor="root")
    assert not await stores.users.revoke_admin(sub, actor="root")
    assert not await stores.users.is_admin(sub)
    assert not (await stores.users.get_profile(sub)).is_admin
