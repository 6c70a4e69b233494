"""Dev mode: the whole service on one machine with no AWS account.

moto's server stands in for DynamoDB and Cognito (unless HUSTLEHUB_DYNAMODB_ENDPOINT names
another server, e.g. DynamoDB Local from docker-compose); the machine's Redis is used, or one
is started when `redis-server` exists, or the service runs on its in-process cache alone and
says so. The table is created, demo data seeded, demo users signed up (one an admin), and what
`hustlehub token` needs is written to var/dev-state.json, with where DynamoDB, the table and
Redis ended up (tools that drive dev mode from outside, such as loadtests/stack.py, read them).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import redis
from types_aiobotocore_dynamodb import DynamoDBClient

from service.config import Settings
from service.dev.devpool import DevPool, provision_dev_pool
from service.dev.devserver import free_port, moto_server
from service.dev.seed.demo import seed_demo
from service.store.client import dynamodb_client
from service.store.cursor import CursorCodec
from service.store.observer import NullStoreObserver
from service.store.schema import ensure_table
from service.store.stores import Stores, build_stores
from service.store.table import Table

log = logging.getLogger("hustlehub.dev")
STATE_FILE = Path("var/dev-state.json")
REDIS_START_S = 10.0


def _redis_answers(url: str) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        with contextlib.closing(client):
            return bool(client.ping())
    except redis.RedisError:
        return False


def private_redis_argv(port: int) -> list[str]:
    """A throwaway Redis: its own port, loopback only, nothing written to disk."""
    return [
        "redis-server",  # found on PATH by the caller
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--save", "",
        "--appendonly", "no",
    ]  # fmt: skip


@contextlib.contextmanager
def local_redis(settings: Settings) -> Iterator[str | None]:
    if settings.redis_url and _redis_answers(settings.redis_url):
        yield settings.redis_url
        return
    if shutil.which("redis-server") is None:
        log.warning(
            "NO REDIS: %s does not answer and redis-server is not installed; running on the "
            "in-process cache alone (one instance only, no cross-instance invalidation)",
            settings.redis_url,
        )
        yield None
        return
    port = free_port()
    proc = subprocess.Popen(private_redis_argv(port), stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + REDIS_START_S
        while not _redis_answers(url):
            if proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with code {proc.returncode} at start")
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start within {REDIS_START_S:.0f} s")
            time.sleep(0.05)
        log.warning("started a private redis-server at %s", url)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def prepare(settings: Settings, *, endpoint: str) -> tuple[Settings, DevPool]:
    """Provision Cognito, the table and the demo data; return settings that point at them."""
    pool = await provision_dev_pool(endpoint, region=settings.cognito_region)
    settings = settings.model_copy(
        update={
            "cognito_user_pool_id": pool.pool_id,
            "cognito_app_client_ids": (pool.client_id,),
            "cognito_jwks_url": pool.jwks_url,
        }
    )
    async with dynamodb_client(settings) as client:
        await ensure_table(client, settings.table_name, production=False)
        stores = _stores(client, settings)
        report = await seed_demo(stores)
        log.info("demo data: %s", report)
        await _register(stores, pool)
    return settings, pool


async def prepare_pool(settings: Settings, *, endpoint: str, name: str) -> DevPool:
    """The dev pool on the Cognito emulator at `endpoint`, its demo users given profiles (and
    the admin its grant) in the existing table: sign-in for a stack whose table is made and
    seeded by other steps (docker-compose.yml's `cognito-init`)."""
    pool = await provision_dev_pool(endpoint, region=settings.cognito_region, name=name)
    async with dynamodb_client(settings) as client:
        await _register(_stores(client, settings), pool)
    return pool


def _stores(client: DynamoDBClient, settings: Settings) -> Stores:
    table = Table.from_settings(client, settings, observer=NullStoreObserver())
    return build_stores(table, CursorCodec(settings.cursor_secret.get_secret_value().encode()))


async def _register(stores: Stores, pool: DevPool) -> None:
    # What the post-confirmation trigger does for a real sign-up (service.aws.registration).
    for user in pool.users.values():
        await stores.users.create_profile(
            user.sub, email=user.email, display_name=user.display_name
        )
        if user.is_admin:
            await stores.users.grant_admin(user.sub, actor="dev-mode")


def state_json(pool: DevPool, settings: Settings) -> str:
    """The dev pool, and the dependencies a `hustlehub serve` next to dev mode would need."""
    state = json.loads(pool.to_json())
    state.update(
        dynamodb_endpoint=settings.dynamodb_endpoint,
        table_name=settings.table_name,
        redis_url=settings.redis_url,
    )
    return json.dumps(state, sort_keys=True)


@contextlib.contextmanager
def dev_environment(settings: Settings) -> Iterator[Settings]:
    """Everything dev mode needs running, for as long as the block runs."""
    with contextlib.ExitStack() as stack:
        endpoint = settings.dynamodb_endpoint or stack.enter_context(moto_server())
        # Cognito always comes from moto: DynamoDB Local does not emulate it.
        cognito = (
            endpoint if settings.dynamodb_endpoint is None else stack.enter_context(moto_server())
        )
        settings = settings.model_copy(update={"dynamodb_endpoint": endpoint})
        redis_url = stack.enter_context(local_redis(settings))
        settings = settings.model_copy(update={"redis_url": redis_url})
        settings, pool = asyncio.run(prepare(settings, endpoint=cognito))
        STATE_FILE.parent.mkdir(parents=True, exist_ok=True)
        STATE_FILE.write_text(state_json(pool, settings))
        yield settings
