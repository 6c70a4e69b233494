"""The service as a real child process (`python -m service serve`), for tests that need a
socket, signals or several workers. Environment variables are the only way settings reach it,
exactly as in production."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import IO

import aiohttp

from service.dev.devserver import free_port


@dataclass
class ServiceProcess:
    proc: asyncio.subprocess.Process
    base_url: str

    async def stop(self, sig: signal.Signals = signal.SIGTERM, *, within_s: float = 30) -> int:
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        return await asyncio.wait_for(self.proc.wait(), within_s)


async def wait_until_up(base_url: str, *, within_s: float = 30) -> None:
    deadline = time.monotonic() + within_s
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with session.get(f"{base_url}/healthz") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise TimeoutError(f"the service at {base_url} did not come up within {within_s} s")


@contextlib.asynccontextmanager
async def service_process(
    env: Mapping[str, str],
    *,
    args: tuple[str, ...] = (),
    within_s: float = 30,
    stderr: IO[bytes] | int | None = None,
) -> AsyncIterator[ServiceProcess]:
    """`stderr`: where the child's log goes, inherited by default: a file the test reads, or
    `asyncio.subprocess.PIPE` to keep it on `proc.stderr` (keep what is written to it small,
    or read it while the service runs)."""
    port = free_port()
    full_env = {
        **os.environ,
        **env,
        "HUSTLEHUB_HOST": "127.0.0.1",
        "HUSTLEHUB_PORT": str(port),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "service", "serve", *args, env=full_env, stderr=stderr
    )
    running = ServiceProcess(proc, f"http://127.0.0.1:{port}")
    try:
        await wait_until_up(running.base_url, within_s=within_s)
        yield running
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()


def settings_env(
    *, endpoint: str, table: str, jwks_url: str, pool_id: str, client_id: str, prefix: str
) -> dict[str, str]:
    return {
        "HUSTLEHUB_MODE": "test",
        "HUSTLEHUB_DYNAMODB_ENDPOINT": endpoint,
        "HUSTLEHUB_TABLE_NAME": table,
        "HUSTLEHUB_REDIS_URL": "redis://127.0.0.1:6379/0",
        "HUSTLEHUB_REDIS_PREFIX": prefix,
        # moto slows down on a loaded machine and does not honour ClientRequestToken; see
        # tests/support/app.py for why test processes get generous DynamoDB bounds.
        "HUSTLEHUB_DYNAMODB_READ_TIMEOUT_S": "10",
        "HUSTLEHUB_DYNAMODB_CALL_DEADLINE_S": "20",
        "HUSTLEHUB_COGNITO_USER_POOL_ID": pool_id,
        "HUSTLEHUB_COGNITO_APP_CLIENT_IDS": client_id,
        "HUSTLEHUB_COGNITO_JWKS_URL": jwks_url,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
