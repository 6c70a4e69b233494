"""How a read's cost grows with the size of its category.

    python -m service.dev.bench.growth [--sizes 100,1000,10000,100000] [--hits 200]
                                       [--misses 5] [--endpoint URL] [--plot PATH]

One category per size, each holding that many listings (their category copies: what pages
and the filtered pages' chunks read; and the listing items of the listings read), on a moto
server of its own (or `--endpoint`). The app runs in this process (create_app, the real
routes, Redis under a prefix of its own, the in-process layer on), driven over loopback.
For each size, four reads: the category's first page (50 listings), a filtered page of it
(`remote=true`, about a third of the listings match), a filtered page that matches none
(`location=whitby`: it scans as many chunks as one request may), and one listing; each as a
miss (its tags invalidated first, so the loader runs) and as a hit (read again: the
in-process layer).
Per read: the median latency, DynamoDB calls, the read units a real table would charge (the
returned items' sizes, strongly consistent: one unit per 4 KB started, per call; moto's own
figures are fixed per call), and the process's resident memory once every read of the size
is cached. A table and a PNG plot (matplotlib) of the four curves; figures to
var/bench-growth.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from service.app import create_app
from service.catalog import cachekeys
from service.config import Settings
from service.dev.devserver import moto_server
from service.models.category import Category
from service.models.listing import IncomePotential, Listing
from service.runtime.appkeys import CACHE, METRICS, TABLE
from service.store.batch import batch_write, put_request
from service.store.categories import category_item
from service.store.client import dynamodb_client
from service.store.codec import item_size
from service.store.copies import entry_item, listing_copy_item
from service.store.listings import listing_item
from service.store.schema import ensure_table
from service.store.table import Table

REPORT = Path("var/bench-growth.json")
READS = ("page", "filtered page", "sparse filter", "listing")
READ_LISTINGS = 20  # listing items written per category: the ones read
_READ_OPS = ("GetItem", "Query", "BatchGetItem")
_UNIT = 4096
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Priced:
    """Read units a real table would charge for what moto answered (strongly consistent)."""

    units: float = 0.0

    def after_call(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        name = model.name
        if name == "Query" or name == "Scan":
            size = sum(item_size(item) for item in parsed.get("Items", []))
            self.units += max(1, math.ceil(size / _UNIT))
        elif name == "GetItem":
            item = parsed.get("Item")
            self.units += max(1, math.ceil(item_size(item) / _UNIT)) if item else 1
        elif name == "BatchGetItem":
            for items in parsed.get("Responses", {}).values():
                self.units += sum(max(1, math.ceil(item_size(i) / _UNIT)) for i in items)


def category_id(size: int) -> str:
    return f"01JGROWTH{size:017d}"


def listing(size: int, n: int) -> Listing:
    at = _EPOCH + timedelta(seconds=n)
    return Listing(
        id=f"01JGRW{size:08d}{n:012d}",
        slug=f"growth-{size}-{n}",
        title=f"Listing {n} of {size}",
        summary="Part-time work that fits around other commitments, close to home.",
        description="Help wanted a few hours a week. " * 8,
        category_id=category_id(size),
        category_slug=f"growth-{size}",
        category_name=f"Growth {size}",
        location=("Leeds, UK", "York, UK", "Hull, UK")[n % 3],
        remote=n % 3 == 0,
        skills=[("writing", "design", "tutoring", "bookkeeping")[n % 4]],
        income_potential=IncomePotential(min=100, max=900),
        version=1,
        created_at=at,
        updated_at=at,
    )


async def seed(table: Table, size: int) -> None:
    category = Category(
        id=category_id(size),
        slug=f"growth-{size}",
        name=f"Growth {size}",
        listing_count=size,
        version=1,
        created_at=_EPOCH,
        updated_at=_EPOCH,
    )
    await batch_write(
        table, [put_request(category_item(category)), put_request(entry_item(category))]
    )
    batch: list[dict[str, Any]] = []
    pending: list[asyncio.Task[None]] = []
    for n in range(size):
        entity = listing(size, n)
        batch.append(put_request(listing_copy_item(entity, 1)))
        if n >= size - READ_LISTINGS:
            batch.append(put_request(listing_item(entity, 1)))
        if len(batch) >= 250:
            pending.append(asyncio.create_task(batch_write(table, batch)))
            batch = []
            if len(pending) >= 4:
                await asyncio.gather(*pending)
                pending = []
    pending.append(asyncio.create_task(batch_write(table, batch)))
    await asyncio.gather(*pending)


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def dynamodb_reads(client: TestClient[Any, Any]) -> float:
    registry = client.app[METRICS].registry
    return sum(
        registry.get_sample_value(
            "hustlehub_dynamodb_requests_total", {"operation": op, "outcome": "ok"}
        )
        or 0.0
        for op in _READ_OPS
    )


def paths(size: int) -> dict[str, str]:
    ref = category_id(size)
    return {
        "page": f"/v1/categories/{ref}/listings?limit=50",
        "filtered page": f"/v1/categories/{ref}/listings?limit=50&remote=true",
        # Matches no listing: the page scans as many chunks as one request may.
        "sparse filter": f"/v1/categories/{ref}/listings?limit=50&location=whitby",
        "listing": f"/v1/listings/{listing(size, size - 1).id}",
    }


async def one(client: TestClient[Any, Any], path: str) -> tuple[float, str]:
    started = time.perf_counter()
    response = await client.get(path)
    await response.read()
    elapsed = time.perf_counter() - started
    if response.status != 200:
        raise RuntimeError(f"{path}: {response.status}")
    return elapsed, response.headers["X-Cache"]


async def measure(
    client: TestClient[Any, Any], priced: Priced, size: int, *, hits: int, misses: int
) -> dict[str, Any]:
    cache = client.app[CACHE]
    figures: dict[str, Any] = {"size": size}
    tags = cachekeys.category_tags(category_id(size)) + cachekeys.listing_tags(
        listing(size, size - 1).id
    )
    for name, path in paths(size).items():
        miss_s, calls, units = [], [], []
        for _ in range(misses):
            await cache.invalidate(tags)
            before_calls, before_units = dynamodb_reads(client), priced.units
            elapsed, source = await one(client, path)
            if source != "miss":
                raise RuntimeError(f"{path}: expected a miss, got {source}")
            miss_s.append(elapsed)
            calls.append(dynamodb_reads(client) - before_calls)
            units.append(priced.units - before_units)
        hit_s = []
        await one(client, path)  # the first read after a fill may still find Redis
        before_calls = dynamodb_reads(client)
        from_memory = 0
        for _ in range(hits):
            elapsed, source = await one(client, path)
            from_memory += source == "memory"
            hit_s.append(elapsed)
        figures[name] = {
            "miss_ms": statistics.median(miss_s) * 1000,
            "miss_calls": statistics.median(calls),
            "miss_units": statistics.median(units),
            "hit_ms": statistics.median(hit_s) * 1000,
            "hit_p99_ms": sorted(hit_s)[int(len(hit_s) * 0.99) - 1] * 1000,
            "hit_calls": (dynamodb_reads(client) - before_calls) / hits,
            # A hit the in-process layer could not serve (its lease lapsed) is Redis's.
            "hits_from_memory": from_memory / hits,
        }
    for path in paths(size).values():  # each miss above dropped the others: all cached again
        await one(client, path)
    figures["rss_mib"] = rss_bytes() / 2**20
    figures["memory_layer_mib"] = _memory_bytes(client) / 2**20
    figures["hit_calls"] = max(figures[name]["hit_calls"] for name in READS)
    return figures


def _memory_bytes(client: TestClient[Any, Any]) -> float:
    memory = client.app[CACHE]._memory
    return float(memory.bytes_used) if memory is not None else math.nan


@contextlib.asynccontextmanager
async def app_client(settings: Settings) -> AsyncIterator[TestClient[Any, Any]]:
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


async def run(endpoint: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    settings = Settings(
        mode="dev",
        dynamodb_endpoint=endpoint,
        table_name=f"hh-growth-{uuid.uuid4().hex[:8]}",
        redis_prefix=f"hh-growth-{uuid.uuid4().hex[:8]}",
        stream_invalidation=False,
        dynamodb_read_timeout_s=60.0,
        dynamodb_call_deadline_s=120.0,
        request_timeout_s=120.0,
        cache_memory_max_bytes=512 * 2**20,
        # Public reads only: no token is ever checked, but the verifier needs a client id.
        cognito_app_client_ids=("growth-bench",),
    )
    async with dynamodb_client(settings) as dynamodb:
        await ensure_table(dynamodb, settings.table_name, production=False)
    rows: list[dict[str, Any]] = []
    async with app_client(settings) as client:
        table = client.app[TABLE]
        priced = Priced()
        table.client.meta.events.register("after-call.dynamodb", priced.after_call)
        for size in args.sizes:
            started = time.monotonic()
            await seed(table, size)
            print(f"seeded {size:,} listings in {time.monotonic() - started:.0f} s", flush=True)
            rows.append(await measure(client, priced, size, hits=args.hits, misses=args.misses))
            print(render(rows[-1:]), flush=True)
    return rows


def render(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| listings | read | miss ms | miss DynamoDB calls | miss read units | hit ms (P99) |"
        " hits from memory | RSS MiB | in-process layer MiB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        for name in READS:
            r = row[name]
            lines.append(
                f"| {row['size']:,} | {name} | {r['miss_ms']:.1f} | {r['miss_calls']:.0f} |"
                f" {r['miss_units']:.0f} | {r['hit_ms']:.2f} ({r['hit_p99_ms']:.2f}) |"
                f" {r['hits_from_memory']:.0%} | {row['rss_mib']:.0f} |"
                f" {row['memory_layer_mib']:.2f} |"
            )
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [row["size"] for row in rows]
    figure, axes = plt.subplots(2, 2, figsize=(11, 8))
    panels = [
        (axes[0][0], "miss_ms", "miss latency (ms)"),
        (axes[0][1], "hit_ms", "hit latency (ms)"),
        (axes[1][0], "miss_units", "read units per miss"),
        (axes[1][1], "miss_calls", "DynamoDB calls per miss"),
    ]
    for axis, key, title in panels:
        for name in READS:
            axis.plot(sizes, [row[name][key] for row in rows], marker="o", label=name)
        axis.set_xscale("log")
        axis.set_xlabel("listings in the category")
        axis.set_title(title)
        axis.grid(True, which="both", alpha=0.3)
    axes[0][0].legend()
    figure.suptitle("Cost of a read against the size of its category")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)


@contextlib.contextmanager
def endpoint_of(args: argparse.Namespace) -> Iterator[str]:
    if args.endpoint:
        yield args.endpoint
        return
    with moto_server() as url:
        yield url


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="service.dev.bench.growth", description=__doc__)
    parser.add_argument(
        "--sizes",
        type=lambda text: [int(part) for part in text.split(",")],
        default=[100, 1_000, 10_000, 100_000],
        help="listings in each category, comma-separated",
    )
    parser.add_argument("--hits", type=int, default=200, help="hits timed per read")
    parser.add_argument("--misses", type=int, default=5, help="misses timed per read")
    parser.add_argument(
        "--endpoint", help="a DynamoDB endpoint (default: a moto server of its own)"
    )
    parser.add_argument("--plot", type=Path, default=Path("var/bench-growth.png"))
    args = parser.parse_args(argv)
    with endpoint_of(args) as url:
        rows = asyncio.run(run(url, args))
    print(render(rows))
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(rows, indent=2))
    plot(rows, args.plot)
    print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
