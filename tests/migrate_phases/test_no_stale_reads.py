"""The suite's randomised no-stale-read check (tests/consistency) in the two legacy phases:
two instances, one writer PATCHing through either, readers on both. One instance's DynamoDB
writes fail throughout, so about half the writes reach DynamoDB only through the outbox (the
other instance's reconciler): in dual-read, where DynamoDB answers first, reads must still
never go back in time, and DynamoDB ends up with the last write."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from service.config import MigrationPhase, Settings
from service.runtime.appkeys import TABLE
from service.store.stores import build_stores, cursor_codec
from tests.api.factories import create_category, create_listing
from tests.consistency.test_no_stale_reads import Read, Write, _reader, _violations, _writer
from tests.migrate_phases.conftest import StartApp, admin_token_for
from tests.migrate_phases.support import app_dynamodb_failing, metric
from tests.support.tokens import TokenMint

PhaseSettings = Callable[..., Settings]
RUN_S = 8.0
FALLBACKS = "hustlehub_migration_dual_read_fallbacks_total"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("phase", ["dual-write", "dual-read"])
async def test_no_read_returns_a_version_older_than_an_acknowledged_write(
    start_app: StartApp, phase_settings: PhaseSettings, mint: TokenMint, phase: MigrationPhase
) -> None:
    # One settings object: both instances share the database, the table and the Redis prefix.
    settings = phase_settings(phase, migration={"reconcile_interval_s": 0.2})
    first = await start_app(settings)
    second = await start_app(settings)
    token = await admin_token_for(first, mint)
    category = await create_category(first, token)
    listing = await create_listing(first, token, category["id"])
    writes: list[Write] = []
    reads: list[Read] = []
    stop = time.monotonic() + RUN_S
    with app_dynamodb_failing(second, "TransactWriteItems"):
        await asyncio.gather(
            _writer([first, second], f"/v1/admin/listings/{listing['id']}", token, writes, stop),
            *(
                _reader(client, index, f"/v1/listings/{listing['slug']}", reads, stop)
                for index, client in enumerate((first, second))
                for _ in range(2)
            ),
        )
    assert len(writes) >= 20, f"{len(writes)} writes: too few to mean anything"
    assert len(reads) >= 300, f"{len(reads)} reads: too few to mean anything"
    assert {r.source for r in reads} >= {"memory", "miss"}
    assert _violations(writes, reads) == []
    behind = sum(
        [
            await metric(client, FALLBACKS, entity="listing", reason="behind")
            for client in (first, second)
        ]
    )
    if phase == "dual-read":
        assert behind > 0, "the outbox path was never exercised"
    dynamodb = build_stores(first.app[TABLE], cursor_codec(settings))
    for _ in range(100):  # the reconcilers drain within 10 s
        current = await dynamodb.listings.get(listing["id"], consistent=True)
        if current.version == writes[-1].version:
            break
        await asyncio.sleep(0.1)
    assert current.version == writes[-1].version
    print(f"{phase}: {len(writes)} writes, {len(reads)} reads, 0 stale, {behind:g} from Postgres")
