"""The gate's verdict on real, short locust runs against the service as a child process.

The runs here send the readers' traffic alone (`locust ... Reader`): moto's TransactWriteItems
copies the whole table to roll back, so the emulator's own write latency would decide a write
verdict; the write side of the gate is proven on histograms in test_gate_math.

One small data set (a table of this module's own), one normal service, and two slowed on
purpose: behind a proxy that delays every request (the client sees it, the server cannot),
and with its cache reads slowed inside (Redis behind a delaying proxy, the in-process layer
off: the server's own histograms see it).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from loadtests import fixture as fixtures
from loadtests.warm import listing_paths, warm
from metrics.slo import OBJECTIVES
from service.config import Settings
from service.store.client import dynamodb_client
from service.store.cursor import CursorCodec
from service.store.observer import NullStoreObserver
from service.store.stores import build_stores
from service.store.table import Table
from tests.support import infra
from tests.support.app import NewTable
from tests.support.faultproxy import FaultProxy, Mode
from tests.support.service_process import service_process, settings_env
from tests.support.tokens import CLIENT_ID, POOL_ID, TokenMint

pytestmark = pytest.mark.slow
ADMIN_SUB = "loadtest-admin"
RUN_SECONDS = 4
HEALTHY_ATTEMPTS = 2
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
# The services it configures cache in the machine's Redis; `hustlehub seed` runs as a child.
@infra.needs(infra.SUBPROCESS, infra.REDIS)
async def gate_env(moto_endpoint: str, new_table: NewTable, mint: TokenMint) -> dict[str, str]:
    table = await new_table("hh-gate")
    env = settings_env(
        endpoint=moto_endpoint, table=table, jwks_url=mint.jwks_url, pool_id=POOL_ID,
        client_id=CLIENT_ID, prefix=f"hh-gate-{uuid.uuid4().hex[:8]}",
    )  # fmt: skip
    settings = Settings(mode="test", dynamodb_endpoint=moto_endpoint, table_name=table)
    async with dynamodb_client(settings) as client:
        stores = build_stores(
            Table.from_settings(client, settings, observer=NullStoreObserver()),
            CursorCodec(settings.cursor_secret.get_secret_value().encode()),
        )
        await stores.users.grant_admin(ADMIN_SUB, actor="test-setup")
    seed = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "service", "seed", "--synthetic", "--users", "5",
        "--listings", "60", "--categories", "3", env={**os.environ, **env},
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert await asyncio.wait_for(seed.wait(), 60) == 0
    return env


async def _prepare(base_url: str, mint: TokenMint, path: Path) -> None:
    users = [mint.token(f"syn-user-{n:06d}") for n in range(3)]
    # Blocking HTTP in threads: the token mint's JWKS is served from this test's event loop.
    built = await asyncio.to_thread(
        fixtures.build, base_url, users=users, admins=[mint.token(ADMIN_SUB)]
    )
    assert await asyncio.to_thread(warm, base_url, listing_paths(built), concurrency=8) == 0
    await asyncio.to_thread(fixtures.write, path, built)


async def _locust(
    host: str, fixture: Path | None, report: Path, *, cwd: Path = ROOT
) -> tuple[int, dict[str, Any]]:
    given = ["--fixture", str(fixture)] if fixture else []
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "locust", "-f", str(ROOT / "loadtests/locustfile.py"),
        "--headless", "--host", host, "--users", "8", "--spawn-rate", "8",
        "--run-time", f"{RUN_SECONDS}s", "--target-rps", "80", *given,
        "--gate-report", str(report), "--only-summary", "--loglevel", "ERROR", "Reader",
        cwd=cwd, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    code = await asyncio.wait_for(proc.wait(), RUN_SECONDS + 60)
    return code, json.loads(await asyncio.to_thread(report.read_text))


def _failed(figures: dict[str, Any]) -> set[tuple[str, str]]:
    return {(c["witness"], c["what"]) for c in figures["checks"] if not c["passed"]}


@pytest.fixture
async def normal(gate_env: dict[str, str]) -> AsyncIterator[str]:
    async with service_process(gate_env) as service:
        yield service.base_url


async def test_the_gate_passes_a_healthy_service(
    normal: str, mint: TokenMint, tmp_path: Path
) -> None:
    await _prepare(normal, mint, tmp_path / "fixture.json")
    # A healthy run's client P99 here is ~10 ms against the 50 ms limit; but on a shared
    # 2-core machine a few seconds' window can catch another process's stall (CI once saw a
    # client P99 over 50 ms with the server's own P99 at 1 ms). A slowed service fails every
    # attempt (the tests below), so a second attempt only forgives a stall, never a slow path.
    attempts: list[set[tuple[str, str]]] = []
    for attempt in range(HEALTHY_ATTEMPTS):
        report = tmp_path / f"gate-{attempt}.json"
        code, figures = await _locust(normal, tmp_path / "fixture.json", report)
        attempts.append(_failed(figures))
        if not attempts[-1]:
            break
    assert attempts[-1] == set(), f"every attempt failed: {attempts}"
    assert code == 0
    # Conditional GETs took part, and the server counted at least what locust sent.
    assert figures["client"]["read"]["requests"] > 100
    assert figures["server"]["requests"]["read"] >= figures["client"]["read"]["requests"]
    assert "/v1/listings/{ref} (If-None-Match)" in " ".join(figures["by_name"])
    assert figures["cache"]["hit_ratio"] > 0.9


async def test_readers_alone_need_no_fixture_and_no_sign_in(normal: str, tmp_path: Path) -> None:
    # As in docker compose, where there is no dev-mode Cognito: run where no dev state exists,
    # so a sign-in attempt would stop locust before its first request.
    assert not (tmp_path / fixtures.DEV_STATE).exists()
    code, figures = await _locust(normal, None, tmp_path / "gate.json", cwd=tmp_path)
    assert code in (0, 1)  # a verdict was given: the run started and ended
    assert figures["client"]["read"]["requests"] > 20
    assert figures["client"]["read"]["failures"] == 0


async def test_the_gate_fails_a_service_the_clients_see_slowed(
    normal: str, mint: TokenMint, tmp_path: Path
) -> None:
    await _prepare(normal, mint, tmp_path / "fixture.json")
    port = int(normal.rsplit(":", 1)[1])
    delay = OBJECTIVES.read_p99_seconds * 1.5
    async with FaultProxy("127.0.0.1", port, delay_s=delay) as proxy:
        await proxy.set_mode(Mode.DELAY)
        code, figures = await _locust(
            f"http://127.0.0.1:{proxy.port}", tmp_path / "fixture.json", tmp_path / "gate.json"
        )
    assert code == 1
    # The server's own clock never saw the proxy's delay: only the client witness fails.
    assert _failed(figures) == {("client", "read p99")}


async def test_the_gate_fails_a_service_slowed_inside(
    gate_env: dict[str, str], mint: TokenMint, tmp_path: Path
) -> None:
    delay = OBJECTIVES.read_p99_seconds * 1.5
    async with FaultProxy("127.0.0.1", 6379, delay_s=delay) as redis:
        await redis.set_mode(Mode.DELAY)
        slow = {
            **gate_env,
            "HUSTLEHUB_REDIS_URL": f"redis://127.0.0.1:{redis.port}/0",
            "HUSTLEHUB_REDIS_TIMEOUT_S": "2",
            "HUSTLEHUB_CACHE_MEMORY_MAX_BYTES": "0",  # every read goes to Redis
        }
        async with service_process(slow) as service:
            await _prepare(service.base_url, mint, tmp_path / "fixture.json")
            code, figures = await _locust(
                service.base_url, tmp_path / "fixture.json", tmp_path / "gate.json"
            )
    assert code == 1
    failed = _failed(figures)
    assert ("server", "read p99") in failed
    assert ("client", "read p99") in failed
    assert figures["server"]["p99_seconds"]["read"] >= delay
