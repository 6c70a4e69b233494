"""What packing long descriptions saves: bytes stored, and read and write units per item.

    python -m service.dev.bench.itemsizes [--samples 200] [--seed 1]

Descriptions of several lengths are cut from real English prose (the licence texts Debian
ships in /usr/share/common-licenses, and this project's docs/), each placed in a listing item
built by the store's own builder twice: as the previous schema version writes it (plain) and
as the current one does (packed when at least `packing.MIN_BYTES`). For each length it prints
the median item size, DynamoDB's units for it (a write: one per KB started; a strongly
consistent read: one per 4 KB started, an eventually consistent one half that; a 50-row page
Query: the rows' sizes summed, then per 4 KB), and the median time to pack and to unpack one
description, with the ratio of packed to plain. No DynamoDB: the units are the Developer
Guide's arithmetic on `codec.item_size`, which is what DynamoDB charges by.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from service.models.listing import IncomePotential, Listing
from service.store import packing
from service.store.codec import item_size
from service.store.listings import listing_item
from service.store.rules import ItemRules

LENGTHS = (300, 1_000, 2_000, 5_000, 10_000)
SOURCES = (Path("/usr/share/common-licenses"), Path("docs"))
PAGE_ROWS = 50
REPORT = Path("var/bench-itemsizes.json")
PLAIN = ItemRules(write_version=1)


def prose() -> list[str]:
    """Paragraphs of running text (no tables, code or headings), in a fixed order."""
    paragraphs: list[str] = []
    for source in SOURCES:
        files = sorted(p for p in source.rglob("*") if p.is_file() and p.stat().st_size < 2**20)
        for path in files:
            try:
                text = path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            for block in text.split("\n\n"):
                line = " ".join(block.split())
                if len(line) > 200 and not line.startswith(("|", "#", "```", "-", "*")):
                    paragraphs.append(line)
    if not paragraphs:
        raise SystemExit("no prose found under " + ", ".join(map(str, SOURCES)))
    return paragraphs


def description(paragraphs: list[str], length: int, rng: random.Random) -> str:
    start = rng.randrange(len(paragraphs))
    out = ""
    for index in range(start, start + len(paragraphs)):
        out += paragraphs[index % len(paragraphs)] + "\n\n"
        if len(out) >= length:
            break
    return out[:length]


def listing(text: str) -> Listing:
    now = datetime(2026, 12, 3, tzinfo=UTC)
    return Listing(
        id="01JBENCHITEMSIZE0000000000",
        slug="a-realistic-listing",
        title="Bookkeeping for small businesses",
        summary="Monthly books, VAT returns and payroll for local shops and trades.",
        description=text,
        category_id="01JBENCHCATEGORY0000000000",
        category_slug="finance",
        category_name="Finance",
        location="Leeds, UK",
        remote=True,
        skills=["bookkeeping", "xero", "vat"],
        income_potential=IncomePotential(min=800, max=2400, currency="GBP", period="month"),
        url="https://example.com/listing",
        version=3,
        created_at=now,
        updated_at=now,
    )


def timed(function: Any, argument: Any, repeat: int = 20) -> float:
    best = math.inf
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(repeat):
            function(argument)
        best = min(best, (time.perf_counter() - started) / repeat)
    return best * 1e6


def measure(
    paragraphs: list[str], length: int, samples: int, seed: int, min_bytes: int
) -> dict[str, float]:
    packed_rules = ItemRules(compress_min_bytes=min_bytes)
    rng = random.Random(seed * 100_003 + length)
    plain_sizes, packed_sizes, pack_us, unpack_us = [], [], [], []
    for _ in range(samples):
        text = description(paragraphs, length, rng)
        entity = listing(text)
        plain_sizes.append(item_size(listing_item(entity, 1, PLAIN)))
        packed_sizes.append(item_size(listing_item(entity, 1, packed_rules)))
        pack_us.append(timed(lambda t: packing.pack(t, min_bytes=min_bytes), text))
        stored = packing.pack(text, min_bytes=min_bytes)
        unpack_us.append(timed(packing.unpack, stored) if isinstance(stored, bytes) else 0.0)
    plain, packed = statistics.median(plain_sizes), statistics.median(packed_sizes)
    return {
        "length": length,
        "plain_bytes": plain,
        "packed_bytes": packed,
        "ratio": packed / plain,
        "plain_wcu": math.ceil(plain / 1024),
        "packed_wcu": math.ceil(packed / 1024),
        "plain_rcu": math.ceil(plain / 4096),
        "packed_rcu": math.ceil(packed / 4096),
        "plain_page_rcu": math.ceil(plain * PAGE_ROWS / 4096),
        "packed_page_rcu": math.ceil(packed * PAGE_ROWS / 4096),
        "pack_us": statistics.median(pack_us),
        "unpack_us": statistics.median(unpack_us),
    }


def render(rows: list[dict[str, float]]) -> str:
    lines = [
        "| description (chars) | item plain / packed (B) | packed / plain | WCU per write |"
        " RCU per read (strong) | RCU per 50-row page | pack / unpack µs |",
        "|---|---|---|---|---|---|---|",
    ]
    lines.extend(
        f"| {r['length']:,} | {r['plain_bytes']:,.0f} / {r['packed_bytes']:,.0f} |"
        f" {r['ratio']:.2f} | {r['plain_wcu']} -> {r['packed_wcu']} |"
        f" {r['plain_rcu']} -> {r['packed_rcu']} |"
        f" {r['plain_page_rcu']} -> {r['packed_page_rcu']} |"
        f" {r['pack_us']:.0f} / {r['unpack_us']:.0f} |"
        for r in rows
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="service.dev.bench.itemsizes", description=__doc__)
    parser.add_argument("--samples", type=int, default=200, help="descriptions per length")
    parser.add_argument("--seed", type=int, default=1, help="which descriptions are cut")
    parser.add_argument(
        "--min-bytes", type=int, default=packing.MIN_BYTES, help="the packing threshold to try"
    )
    args = parser.parse_args(argv)
    paragraphs = prose()
    rows = [
        measure(paragraphs, length, args.samples, args.seed, args.min_bytes) for length in LENGTHS
    ]
    print(
        f"{len(paragraphs)} paragraphs of prose; {args.samples} descriptions per length;"
        f" packed from {args.min_bytes} bytes"
    )
    print(render(rows))
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
