"""`hustlehub migrate reconcile --all`, measured: outbox entries applied per second.

    python -m service.dev.bench.reconcile [--scale 0.05] [--concurrency 4] [--repeats 2]
                                          [--endpoint http://127.0.0.1:8701]

One run: a fresh legacy database on 127.0.0.1:5432 filled by `migrate generate` (scale 1 is the
guide's: 100k users, 1k listings, 40 categories, 300k favourites), every user linked to a sub
(`link_users`), then `reconcile(everything=True)` (every category, listing, user and favourite
queued and applied to DynamoDB) run `--repeats` times at concurrency 1 (the baseline) and at
`--concurrency`, alternating, against the same table. The ratio is the median rate at
`--concurrency` over the median at 1, measured in the same run. Everything targets loopback;
every step is bounded by the commands' own bounds.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from pathlib import Path

from cache import NullObserver
from service.config import Settings
from service.dev.bench.migration import (
    PG,
    create_table,
    dynamodb_server,
    migrate_env,
    psql,
    require_loopback,
    step,
)
from service.migrate.usermap import read_csv
from service.runtime.cachebuild import open_cache
from service.transition import link_users, reconcile

TABLE = "bench-reconcile"


async def link_everyone(settings: Settings, dsn: str, path: Path) -> int:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        ids = [row["id"] for row in await conn.fetch("select id::text as id from auth.users")]
    finally:
        await conn.close()
    lines = [f"{i},{uuid.uuid5(uuid.NAMESPACE_URL, i)}" for i in ids]
    path.write_text("supabase_id,sub\n" + "\n".join(lines) + "\n")  # noqa: ASYNC240 - setup
    linked = await link_users(settings.migration, read_csv(path).subs)
    return linked.linked


async def timed(settings: Settings, concurrency: int) -> tuple[float, int]:
    started = time.monotonic()
    # As `hustlehub migrate reconcile` runs it (service.cli.reconcile_command), in process.
    async with open_cache(settings, observer=NullObserver()) as cache:
        drained = await reconcile(
            settings, invalidate=cache.invalidate, everything=True, concurrency=concurrency
        )
    seconds = time.monotonic() - started
    if drained.left.pending or drained.left.dead or drained.retried:
        raise SystemExit(f"reconcile left work behind: {drained}")
    return seconds, drained.applied


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=0.05, help="multiple of the guide's size")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--endpoint", default=None, help="a DynamoDB-compatible server here")
    parser.add_argument("--work", default="var/reconcile-bench")
    args = parser.parse_args()
    if args.endpoint is not None:
        require_loopback(args.endpoint)
    users, listings = int(100_000 * args.scale), max(1, int(1_000 * args.scale))
    categories, favourites = max(1, int(40 * min(args.scale, 1))), int(300_000 * args.scale)
    database = f"hh_reconcile_{uuid.uuid4().hex[:8]}"
    work = Path(args.work) / database
    work.mkdir(parents=True)
    psql(f"create database {database}")
    dsn = f"{PG}/{database}"
    try:
        with dynamodb_server(args.endpoint) as endpoint:
            asyncio.run(create_table(endpoint, TABLE))
            step(
                migrate_env(endpoint, TABLE), "generate", "--dsn", dsn, "--users", str(users),
                "--listings", str(listings), "--categories", str(categories),
                "--favourites", str(favourites),
            )  # fmt: skip
            settings = Settings(
                mode="test", dynamodb_endpoint=endpoint, table_name=TABLE,
                migration={"legacy_dsn": dsn},
                redis_prefix=f"hh-bench-{uuid.uuid4().hex[:8]}", dynamodb_read_timeout_s=30.0,
            )  # fmt: skip
            linked = asyncio.run(link_everyone(settings, dsn, work / "subs.csv"))
            print(f"reconcile benchmark: {users} users ({linked} linked), {listings} listings, "
                  f"{categories} categories, {favourites} favourites; {endpoint}")  # fmt: skip
            rates: dict[int, list[float]] = {1: [], args.concurrency: []}
            for repeat in range(args.repeats):
                order = [1, args.concurrency] if repeat % 2 == 0 else [args.concurrency, 1]
                for concurrency in order:
                    seconds, applied = asyncio.run(timed(settings, concurrency))
                    rates[concurrency].append(applied / seconds)
                    print(f"  concurrency {concurrency}: {applied:,} entries in {seconds:,.1f} s, "
                          f"{applied / seconds:,.0f}/s")  # fmt: skip
    finally:
        psql(f"drop database if exists {database} with (force)")
    base, ours = statistics.median(rates[1]), statistics.median(rates[args.concurrency])
    print(f"median entries/s: concurrency 1 {base:,.0f}, concurrency {args.concurrency} "
          f"{ours:,.0f}: {ours / base:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
