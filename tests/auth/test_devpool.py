"""Dev-mode sign-in end to end against moto's Cognito emulation, verified by our own verifier."""

from __future__ import annotations

import aiohttp
import pytest

from service.auth.jwks import JwksCache
from service.auth.tokens import TokenVerifier
from service.dev.devpool import ADMIN_GROUP, DevPool, issue_access_token, provision_dev_pool
from service.errors import Unauthenticated
from tests.auth.support import LEEWAY, MIN_INTERVAL, TTL, RecordingObserver

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _verifier(
    http: aiohttp.ClientSession, pool: DevPool, observer: RecordingObserver, *, dev: bool
) -> TokenVerifier:
    cache = JwksCache(
        http,
        pool.jwks_url,
        ttl_s=TTL,
        min_refresh_interval_s=MIN_INTERVAL,
        observer=observer,
        allow_dev_keys=dev,
    )
    return TokenVerifier(
        cache, issuer=pool.issuer, client_ids=[pool.client_id], leeway=LEEWAY, observer=observer
    )


async def test_a_dev_pool_signs_in_its_admin(
    moto_endpoint: str, http: aiohttp.ClientSession
) -> None:
    pool = await provision_dev_pool(moto_endpoint)
    assert set(pool.users) == {"demo", "admin"}
    assert pool.users["admin"].is_admin
    assert not pool.users["demo"].is_admin
    assert pool.issuer == f"https://cognito-idp.us-east-1.amazonaws.com/{pool.pool_id}"

    observer = RecordingObserver()
    verifier = _verifier(http, pool, observer, dev=True)
    admin = await verifier.verify(await issue_access_token(pool, "admin"))
    assert admin.sub == pool.users["admin"].sub
    assert (admin.username, admin.client_id, admin.groups) == (
        "admin",
        pool.client_id,
        (ADMIN_GROUP,),
    )

    demo = await verifier.verify(await issue_access_token(pool, "demo"))
    assert demo.sub == pool.users["demo"].sub != admin.sub
    assert demo.groups == ()
    assert observer.failures == []


async def test_outside_dev_mode_a_moto_token_is_refused(
    moto_endpoint: str, http: aiohttp.ClientSession
) -> None:
    pool = await provision_dev_pool(moto_endpoint)
    token = await issue_access_token(pool, "admin")
    observer = RecordingObserver()
    with pytest.raises(Unauthenticated) as info:
        await _verifier(http, pool, observer, dev=False).verify(token)
    # moto's JWKS offers only its published key, which is dropped: no key for the kid.
    assert info.value.reason == "unknown_kid"
    assert observer.failures == ["unknown_kid"]
    assert observer.refreshes == ["ok"]


async def test_a_dev_pool_survives_a_json_round_trip(moto_endpoint: str) -> None:
    pool = await provision_dev_pool(moto_endpoint)
    again = DevPool.from_json(pool.to_json())
    assert again == pool
    assert again.users["demo"].password == pool.users["demo"].password
    # Each provisioning is a fresh pool with fresh passwords.
    other = await provision_dev_pool(moto_endpoint)
    assert other.pool_id != pool.pool_id
    assert other.users["demo"].password != pool.users["demo"].password
