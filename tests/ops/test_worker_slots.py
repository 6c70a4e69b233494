"""`serve --workers 2` with stream invalidation on: exactly one worker (slot 0) reads the
table's stream, and the replacement of that worker after a kill takes the job over."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from pathlib import Path

import pytest

from tests.metrics.exposition import per_worker
from tests.metrics.test_workers import wait_for_workers
from tests.support.service_process import service_process, settings_env
from tests.support.tokens import CLIENT_ID, POOL_ID, TokenMint

# The test body starts the service as a child process (caching in the machine's Redis),
# where no fixture can mark it.
pytestmark = [pytest.mark.subprocess, pytest.mark.redis]

SHARDS = "hustlehub_stream_shards"


async def _stream_readers(directory: Path, workers: set[int], *, within_s: float) -> set[int]:
    """The workers reading the stream, once exactly one of `workers` reads it (bounded)."""
    deadline = time.monotonic() + within_s
    while True:
        reading = per_worker(directory, "gauge_livesum", SHARDS)
        readers = {pid for pid, shards in reading.items() if shards > 0 and pid in workers}
        if len(readers) == 1 or time.monotonic() > deadline:
            return readers
        await asyncio.sleep(0.2)


@pytest.mark.timeout(180)
async def test_one_worker_reads_the_stream_and_its_replacement_takes_over(
    moto_endpoint: str, api_table: str, mint: TokenMint, tmp_path: Path
) -> None:
    directory = tmp_path / "prom"
    env = {
        **settings_env(
            endpoint=moto_endpoint, table=api_table, jwks_url=mint.jwks_url, pool_id=POOL_ID,
            client_id=CLIENT_ID, prefix=f"hh-slots-{uuid.uuid4().hex[:8]}",
        ),
        "HUSTLEHUB_METRICS_MULTIPROC_DIR": str(directory),
        "HUSTLEHUB_STREAM_INVALIDATION": "true",
    }  # fmt: skip
    async with service_process(env, args=("--workers", "2", "--drain", "0.2")) as service:
        workers = await wait_for_workers(service.proc.pid, 2)
        (reader,) = await _stream_readers(directory, workers, within_s=30)
        await asyncio.sleep(2)  # long enough for a second consumer to have started too
        assert await _stream_readers(directory, workers, within_s=0) == {reader}

        os.kill(reader, signal.SIGKILL)
        replaced = await wait_for_workers(service.proc.pid, 2, without=reader)
        (new_reader,) = await _stream_readers(directory, replaced, within_s=30)
        assert new_reader not in workers  # the replacement, in slot 0, not the survivor
        assert await service.stop(signal.SIGTERM, within_s=30) == 0
