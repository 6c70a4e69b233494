"""`hustlehub seed [--synthetic ...]`: the command-line door to the seeders."""

from __future__ import annotations

import argparse
import sys

from service.config import Settings
from service.dev.seed.demo import seed_demo
from service.dev.seed.synthetic import seed_synthetic
from service.store.client import dynamodb_client
from service.store.observer import NullStoreObserver
from service.store.table import Table


def _progress(phase: str, done: int, total: int) -> None:
    print(f"\r{phase}: {done}/{total}", end="\n" if done >= total else "", file=sys.stderr)


async def run_seed(settings: Settings, args: argparse.Namespace) -> None:
    async with dynamodb_client(settings) as client:
        table = Table.from_settings(client, settings, observer=NullStoreObserver())
        if args.synthetic:
            await seed_synthetic(
                table,
                users=args.users,
                listings=args.listings,
                categories=args.categories,
                favourites_per_user=args.favourites_per_user,
                progress=_progress,
            )
        else:
            print(await seed_demo(table))
