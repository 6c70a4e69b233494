"""The whole app with its cache on a three-node Redis Cluster (HUSTLEHUB_REDIS_CLUSTER): two
instances share it, and an admin write on one is seen by the next read on the other."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from service.app import create_app
from tests.api.factories import create_category, create_listing
from tests.support import infra
from tests.support.app import AiohttpClient, bearer, make_settings
from tests.support.redis_cluster import redis_cluster
from tests.support.tokens import TokenMint

Client = TestClient[Any, Any]


@pytest.fixture(scope="module")
@infra.needs(infra.REDIS)  # three redis-server processes of the module's own
def cluster_url() -> Iterator[str]:
    with redis_cluster(3) as ports:
        yield f"redis://127.0.0.1:{ports[1]}"


async def test_two_instances_on_a_cluster_see_each_others_writes(
    aiohttp_client: AiohttpClient,
    moto_endpoint: str,
    api_table: str,
    mint: TokenMint,
    cluster_url: str,
    admin_token: str,
) -> None:
    settings = make_settings(
        moto_endpoint, api_table, mint, redis_url=cluster_url, redis_cluster=True
    )
    one = await aiohttp_client(create_app(settings))
    two = await aiohttp_client(create_app(settings))
    category = await create_category(one, admin_token)
    listing = await create_listing(one, admin_token, category["id"])
    path = f"/v1/listings/{listing['id']}"

    first = await two.get(path)
    assert first.status == 200
    cached = await two.get(path)
    assert cached.headers["X-Cache"] in {"memory", "redis"}
    assert cached.headers["ETag"] == first.headers["ETag"]

    for n in range(3):
        etag = (await one.get(path)).headers["ETag"]
        patched = await one.patch(
            f"/v1/admin/listings/{listing['id']}",
            json={"title": f"Renamed {n}"},
            headers={**bearer(admin_token), "If-Match": etag},
        )
        assert patched.status == 200, await patched.text()
        # Not eventually: the write's response waited for every instance's ack.
        seen = await two.get(path)
        assert (await seen.json())["title"] == f"Renamed {n}"
        assert seen.headers["ETag"] == patched.headers["ETag"]
    ready = await two.get("/readyz")
    assert ready.status == 200, await ready.text()
