"""Reading a set of paths once, concurrently: fills the service's cache before a measurement."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import aiohttp

from loadtests.fixture import require_loopback


async def _warm(base_url: str, paths: Sequence[str], concurrency: int, within_s: float) -> int:
    base = require_loopback(base_url)
    queue = iter(paths)
    failures = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal failures
        for path in queue:  # one shared iterator: each path is read once
            async with session.get(f"{base}{path}") as response:
                await response.read()
                if response.status != 200:
                    failures += 1

    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session, asyncio.timeout(within_s):
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return failures


def warm(
    base_url: str, paths: Sequence[str], *, concurrency: int = 32, within_s: float = 900
) -> int:
    """GET every path once; returns how many did not answer 200."""
    return asyncio.run(_warm(base_url, paths, concurrency, within_s))


def synthetic_listing_paths(count: int) -> list[str]:
    """The paths of the first `count` listings `seed_synthetic` makes."""
    return [f"/v1/listings/syn-listing-{i:06d}" for i in range(count)]


def listing_paths(fixture: dict[str, list[dict[str, str]]]) -> list[str]:
    return [f"/v1/listings/{listing['slug']}" for listing in fixture["listings"]]
