"""The Supabase -> DynamoDB migration, end to end, measured: items/s into moto's server.

    python -m service.dev.bench.migration [--scale 1] [--kill-at 0.5] [--divergence]

One run: a fresh legacy database on 127.0.0.1:5432 filled by `migrate generate` (scale 1 is
the guide's: 100k users, 1k listings, 40 categories, 300k favourites), then `migrate export`,
`transform` (a mapping CSV for every user), `load` and `verify` as an operator runs them (the
real CLI, as subprocesses), against a moto server of its own. With `--kill-at F` the load is
killed with SIGKILL once the checkpoint passes F of the items and resumed. With
`--divergence` three faults are seeded after the clean verify (a changed field, a deleted
item, an extra tagged item) and verify must find exactly those three and exit 1.

The baseline, measured in the same run against the same server: the first `--baseline-items`
items written twice each way into fresh tables, alternately by the load's own code and by bare
aiobotocore BatchWriteItem calls (25 a call, the same concurrency, no checkpoint, no tag, no
retries), so the ratio is what the load's own machinery costs.
Everything targets loopback; every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aiobotocore.session import get_session

from service.config import Settings
from service.dev.devserver import moto_server
from service.migrate.load import LoadObserver, load
from service.migrate.workdir import Manifest, WorkDir
from service.store.client import dynamodb_client
from service.store.schema import ensure_table
from service.store.table import Table

PG = "postgresql://postgres@127.0.0.1:5432"
PYTHON = [sys.executable, "-m", "service", "migrate"]
STEP_TIMEOUT_S = 4 * 3600
LOOPBACK = ("http://127.0.0.1", "http://localhost", "http://[::1]")


def require_loopback(url: str) -> str:
    if not url.startswith(LOOPBACK):
        raise ValueError(f"the benchmarks target loopback only, not {url!r}")
    return url.rstrip("/")


def migrate_env(endpoint: str, table: str) -> dict[str, str]:
    return {
        **os.environ,
        "HUSTLEHUB_MODE": "test",
        "HUSTLEHUB_DYNAMODB_ENDPOINT": endpoint,
        "HUSTLEHUB_TABLE_NAME": table,
    }


def step(env: dict[str, str], *argv: str, ok: tuple[int, ...] = (0,)) -> tuple[float, str]:
    started = time.monotonic()
    done = subprocess.run(
        [*PYTHON, *argv], env=env, capture_output=True, text=True, timeout=STEP_TIMEOUT_S
    )
    seconds = time.monotonic() - started
    if done.returncode not in ok:
        sys.exit(f"migrate {argv[0]} exited {done.returncode}:\n{done.stderr[-3000:]}")
    print(f"  migrate {argv[0]}: {seconds:,.1f} s  {done.stdout.strip().splitlines()[-1:]}")
    return seconds, done.stdout


def psql(sql: str) -> None:
    # psql from PATH: the benchmark drives the machine's own PostgreSQL client.
    subprocess.run(["psql", f"{PG}/postgres", "-qc", sql], check=True, timeout=120)  # noqa: S607


def write_user_map(work: Path, path: Path) -> int:
    count = 0
    with (work / "export" / "auth.users.jsonl").open() as rows, path.open("w") as out:
        writer = csv.writer(out)
        writer.writerow(["supabase_id", "sub"])
        for line in rows:
            supabase_id = json.loads(line)["id"]
            writer.writerow([supabase_id, str(uuid.uuid5(uuid.NAMESPACE_URL, supabase_id))])
            count += 1
    return count


@contextlib.contextmanager
def dynamodb_server(endpoint: str | None) -> Iterator[str]:
    if endpoint is not None:
        yield endpoint
        return
    with moto_server() as url:
        yield url


async def create_table(endpoint: str, table: str) -> None:
    settings = Settings(mode="test", dynamodb_endpoint=endpoint, table_name=table)
    async with dynamodb_client(settings) as client:
        await ensure_table(client, table, production=False)


def sample(items_file: Path, count: int) -> list[Any]:
    items: list[Any] = []
    with items_file.open() as lines:
        for line in lines:
            items.append(json.loads(line))
            if len(items) >= count:
                break
    return items


async def ours(endpoint: str, table: str, items: list[Any], work: Path, workers: int) -> float:
    """The load's own code (tag, chunks, retries, checkpoint) on `items`; items/s."""
    await create_table(endpoint, table)
    work.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - before any request
    with (work / "items.jsonl").open("w") as out:
        out.writelines(json.dumps(item) + "\n" for item in items)
    settings = Settings(mode="test", dynamodb_endpoint=endpoint, table_name=table,
                        dynamodb_read_timeout_s=30.0)  # fmt: skip
    async with dynamodb_client(settings) as client:
        writer = Table(client, table, observer=LoadObserver(), retry_base_s=0.025,
                       retry_cap_s=2.0, deadline_s=60.0, max_attempts=30)  # fmt: skip
        result = await load(writer, WorkDir(work), Manifest(len(items), table, {}),
                            batch="sample", concurrency=workers, progress=False)  # fmt: skip
    return result.rate


async def bare(endpoint: str, table: str, items: list[Any], workers: int) -> float:
    """Bare BatchWriteItem calls of `items`, 25 a call; items/s."""
    await create_table(endpoint, table)
    chunks = [items[i : i + 25] for i in range(0, len(items), 25)]
    session = get_session()
    async with session.create_client(
        "dynamodb", region_name="us-east-1", endpoint_url=endpoint,
        aws_access_key_id="testing", aws_secret_access_key="testing",  # noqa: S106
    ) as client:  # fmt: skip
        queue = list(reversed(chunks))

        async def worker() -> None:
            while queue:
                chunk = queue.pop()
                requests: list[Any] = [{"PutRequest": {"Item": item}} for item in chunk]
                await client.batch_write_item(RequestItems={table: requests})

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(workers)))
        return len(items) / (time.monotonic() - started)


def killed_load(env: dict[str, str], work: Path, batch: str, total: int, at: float) -> int:
    """Start the load, SIGKILL it once the checkpoint passes `at` of `total`; items done."""
    proc = subprocess.Popen(
        [*PYTHON, "load", "--work", str(work), "--batch", batch],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + STEP_TIMEOUT_S
    done = 0
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            checkpoint = work / "checkpoint.json"
            if checkpoint.exists():
                done = int(json.loads(checkpoint.read_text())["done"])
                if done >= total * at:
                    proc.send_signal(signal.SIGKILL)
                    break
            time.sleep(0.2)
    finally:
        proc.wait(timeout=30)
    if proc.returncode != -signal.SIGKILL:
        sys.exit(f"the load was not killed (exit {proc.returncode}); --kill-at too late?")
    return done


async def seed_divergence(endpoint: str, table: str, work: Path, batch: str) -> None:
    """One changed field, one deleted item, one extra item of the batch."""
    lines = (work / "items.jsonl").open()
    first, second = json.loads(next(lines)), json.loads(next(lines))
    lines.close()
    session = get_session()
    async with session.create_client(
        "dynamodb", region_name="us-east-1", endpoint_url=endpoint,
        aws_access_key_id="testing", aws_secret_access_key="testing",  # noqa: S106
    ) as client:  # fmt: skip
        changed = {**first, "name": {"S": "Renamed behind the migration's back"}}
        changed["migrationBatch"] = {"S": batch}
        await client.put_item(TableName=table, Item=changed)
        await client.delete_item(TableName=table, Key={"PK": second["PK"], "SK": second["SK"]})
        extra = {"PK": {"S": "USER#stray"}, "SK": {"S": "METADATA#stray"},
                 "type": {"S": "User"}, "migrationBatch": {"S": batch}}  # fmt: skip
        await client.put_item(TableName=table, Item=extra)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiple of the guide's size")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--kill-at", type=float, default=None, help="SIGKILL the load at F")
    parser.add_argument("--divergence", action="store_true")
    parser.add_argument("--baseline-items", type=int, default=20_000)
    parser.add_argument("--work", default="var/migration-bench")
    parser.add_argument("--out", default=None, help="also write the figures as JSON here")
    parser.add_argument(
        "--endpoint",
        default=None,
        help="a DynamoDB-compatible server on this machine to load instead of a moto of our own "
        "(e.g. dynalite with --path, whose memory does not grow with the table)",
    )
    args = parser.parse_args()
    if args.endpoint is not None:
        require_loopback(args.endpoint)
    users, listings = int(100_000 * args.scale), int(1_000 * args.scale)
    categories, favourites = max(1, int(40 * min(args.scale, 1))), int(300_000 * args.scale)
    database = f"hh_bench_{uuid.uuid4().hex[:8]}"
    work = Path(args.work) / database
    work.mkdir(parents=True)
    figures: dict[str, Any] = {
        "users": users, "listings": listings, "categories": categories,
        "favourites": favourites, "concurrency": args.concurrency,
    }  # fmt: skip
    print(f"migration benchmark: {figures} in {database}, work {work}")
    psql(f"create database {database}")
    dsn = f"{PG}/{database}"
    try:
        with dynamodb_server(args.endpoint) as endpoint:
            figures["endpoint"] = "moto (own)" if args.endpoint is None else args.endpoint
            env = migrate_env(endpoint, "bench-migration")
            asyncio.run(create_table(endpoint, "bench-migration"))
            figures["generate_s"], _ = step(
                env, "generate", "--dsn", dsn, "--users", str(users), "--listings",
                str(listings), "--categories", str(categories), "--favourites", str(favourites),
            )  # fmt: skip
            figures["export_s"], _ = step(env, "export", "--dsn", dsn, "--work", str(work))
            user_map = work / "users.csv"
            write_user_map(work, user_map)
            figures["transform_s"], _ = step(
                env, "transform", "--work", str(work), "--user-map", str(user_map)
            )
            total = json.loads((work / "manifest.json").read_text())["items"]
            figures["items"] = total
            batch = f"bench-{uuid.uuid4().hex[:6]}"
            load_args = ["--work", str(work), "--batch", batch, "--concurrency",
                         str(args.concurrency)]  # fmt: skip
            if args.kill_at is not None:
                figures["killed_at_items"] = killed_load(env, work, batch, total, args.kill_at)
                print(f"  killed the load with {figures['killed_at_items']:,} items checkpointed")
            seconds, out = step(env, "load", *load_args)
            fields = dict(part.split("=", 1) for part in out.split() if "=" in part)
            figures["load_wall_s"], figures["load_written"] = seconds, int(fields["written"])
            figures["load_items_per_s"] = float(fields["items_per_s"])
            figures["verify_s"], _ = step(env, "verify", "--work", str(work), "--batch", batch)
            figures["verify_clean"] = True
            if args.divergence:
                asyncio.run(seed_divergence(endpoint, "bench-migration", work, batch))
                step(env, "verify", "--work", str(work), "--batch", batch, ok=(1,))
                found = json.loads((work / "verify-report.json").read_text())["counts"]
                figures["divergence_found"] = found
                if found != {"changed": 1, "missing": 1, "extra": 1}:
                    sys.exit(f"verify found {found}, not the three seeded divergences")
            # The same sample, alternately through the load's code and bare calls, each into a
            # fresh table of its own: the ratio is what the load's machinery costs.
            items = sample(work / "items.jsonl", min(args.baseline_items, total))
            rates: dict[str, list[float]] = {"ours": [], "bare": []}
            for round_ in range(2):
                order = ("ours", "bare") if round_ % 2 == 0 else ("bare", "ours")
                for kind in order:
                    name = f"bench-{kind}-{round_}"
                    if kind == "ours":
                        rate = asyncio.run(
                            ours(endpoint, name, items, work / name, args.concurrency)
                        )
                    else:
                        rate = asyncio.run(bare(endpoint, name, items, args.concurrency))
                    rates[kind].append(rate)
            figures["sample_items"] = len(items)
            figures["sample_ours_items_per_s"] = rates["ours"]
            figures["sample_bare_items_per_s"] = rates["bare"]
            figures["ours_vs_bare"] = sum(rates["ours"]) / sum(rates["bare"])
    finally:
        psql(f"drop database if exists {database} with (force)")
    print(json.dumps(figures, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
