"""`hustlehub`: serve, dev, create-table, seed, token, table-template, migrate, migrate-phase.
(The AWS deployment is a CDK app, not a command: `make infra`, docs/deploy.md.)

Heavy imports happen inside each command: `serve --workers N` must set up prometheus_client's
multiprocess directory before prometheus_client is first imported.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from service.config import Settings
from service.migrate.cli import add_parser as migrate_parsers


def _settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]


def cmd_serve(args: argparse.Namespace) -> None:
    overrides: dict[str, object] = {}
    if args.workers:
        overrides["workers"] = args.workers
    if args.port is not None:
        overrides["port"] = args.port
    settings = _settings(**overrides)
    if settings.workers > 1:
        _serve_workers(settings, drain_s=args.drain)
    else:
        from service.app import create_app
        from service.server import bind, run_one

        run_one(settings, create_app, bind(settings), drain_s=args.drain)


def _serve_workers(settings: Settings, *, drain_s: float) -> None:
    directory = settings.metrics_multiproc_dir or tempfile.mkdtemp(prefix="hustlehub-metrics-")
    settings = settings.model_copy(update={"metrics_multiproc_dir": directory})
    # prometheus_client reads this variable itself, once, when first imported; this is the one
    # place the service writes the environment, and it happens before that import.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    from metrics.registry import (
        mark_worker_dead,
        prepare_multiprocess_dir,
        require_multiprocess_mode,
    )
    from service.app import create_app
    from service.server import run_workers

    prepare_multiprocess_dir(directory)
    require_multiprocess_mode()
    run_workers(
        settings,
        create_app,
        drain_s=drain_s,
        on_worker_exit=lambda pid: mark_worker_dead(pid, directory),
    )


def cmd_dev(args: argparse.Namespace) -> None:
    from service.app import create_app
    from service.dev.devmode import STATE_FILE, dev_environment
    from service.server import bind, run_one

    overrides: dict[str, object] = {"mode": "dev"}
    if args.port is not None:
        overrides["port"] = args.port
    with dev_environment(_settings(**overrides)) as settings:
        base = f"http://{settings.host}:{settings.port}"
        print(
            f"\nHustle Hub (dev) on {base}\n"
            f"  curl {base}/v1/categories\n"
            f"  TOKEN=$(.venv/bin/hustlehub token admin)\n"
            f'  curl -H "Authorization: Bearer $TOKEN" {base}/v1/me\n'
            f"  sign-in state: {STATE_FILE}\n",
            flush=True,
        )
        run_one(settings, create_app, bind(settings), drain_s=0)


def cmd_create_table(args: argparse.Namespace) -> None:
    from botocore.exceptions import ConnectionError as BotoConnectionError

    from service.store.client import dynamodb_client
    from service.store.schema import ensure_table

    settings = _settings()

    async def run() -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + args.wait
        # One client for every attempt: building one is slow on a busy machine, and what is
        # retried is the connection, not the client.
        async with dynamodb_client(settings) as client:
            while True:
                try:
                    return await ensure_table(
                        client, settings.table_name, production=settings.mode == "production"
                    )
                except BotoConnectionError as exc:
                    # A database container that has not started listening yet (docker compose).
                    if loop.time() + 1.0 > deadline:
                        raise
                    print(f"waiting for DynamoDB: {exc}", file=sys.stderr, flush=True)
                    await asyncio.sleep(1.0)

    created = asyncio.run(run())
    print(f"table {settings.table_name}: {'created' if created else 'already there'}")


def cmd_seed(args: argparse.Namespace) -> None:
    from service.dev.seed.cli import run_seed

    asyncio.run(run_seed(_settings(), args))


def cmd_token(args: argparse.Namespace) -> None:
    from service.dev.devmode import STATE_FILE
    from service.dev.devpool import DevPool, issue_access_token

    if not STATE_FILE.exists():
        sys.exit(f"{STATE_FILE} not found: start dev mode first (make run)")
    pool = DevPool.from_json(STATE_FILE.read_text())
    if args.user not in pool.users:
        sys.exit(f"unknown dev user {args.user!r}; known: {', '.join(sorted(pool.users))}")
    print(asyncio.run(issue_access_token(pool, args.user)))


def cmd_table_template(args: argparse.Namespace) -> None:
    from service.store.schema import cloudformation_template

    print(json.dumps(cloudformation_template(args.table_name), indent=2))


def cmd_migrate_phase_reconcile(args: argparse.Namespace) -> None:
    from service.migrate.phase_commands import reconcile

    settings = _settings()
    if settings.legacy_dsn is None:
        sys.exit("HUSTLEHUB_LEGACY_DSN must name the legacy Postgres")
    drained = asyncio.run(
        reconcile(
            settings,
            requeue_dead=args.requeue_dead,
            everything=args.all,
            prune=args.prune,
            concurrency=args.concurrency,
        )
    )
    print(
        f"outbox ({drained.drainers} drainers): {drained.applied} applied, "
        f"{drained.retried} retried later, {drained.dead} moved to dead letters, "
        f"{drained.requeued} requeued; "
        f"left: {drained.left.pending} pending, {drained.left.dead} dead"
    )
    if drained.left.pending or drained.left.dead:
        sys.exit(1)


def cmd_migrate_phase_link_users(args: argparse.Namespace) -> None:
    from service.migrate.phase_commands import link_users
    from service.migrate.usermap import MappingError

    settings = _settings()
    if settings.legacy_dsn is None:
        sys.exit("HUSTLEHUB_LEGACY_DSN must name the legacy Postgres")
    try:
        linked = asyncio.run(link_users(settings, args.user_map))
    except (OSError, MappingError) as exc:  # the operator's file: refused, as `migrate` does
        print(f"link-users: {exc}", file=sys.stderr)
        sys.exit(2)
    print(f"identities: {linked.linked} linked, {linked.already} already linked")
    for label, ids in (
        ("no such Supabase user", linked.unknown),
        ("sub or user linked otherwise", linked.conflicting),
    ):
        for supabase_id in ids:
            print(f"{label}: {supabase_id}", file=sys.stderr)
    if linked.unknown or linked.conflicting:
        sys.exit(1)


def cmd_migrate(args: argparse.Namespace) -> None:
    from service.migrate.cli import command

    command(args)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="hustlehub", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the service (settings from HUSTLEHUB_* variables)")
    serve.add_argument("--workers", type=int, default=0, help="worker processes on one port")
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument(
        "--drain",
        type=float,
        default=5.0,
        help="seconds readiness reports 503 before the listener closes",
    )
    serve.set_defaults(func=cmd_serve)
    dev = sub.add_parser("dev", help="dev mode: embedded DynamoDB + Cognito, demo data")
    dev.add_argument("--port", type=int, default=None)
    dev.set_defaults(func=cmd_dev)
    create = sub.add_parser("create-table", help="create the table if absent")
    create.add_argument(
        "--wait",
        type=float,
        default=0.0,
        help="seconds to keep retrying while the DynamoDB endpoint does not answer",
    )
    create.set_defaults(func=cmd_create_table)
    seed = sub.add_parser("seed", help="load demo or synthetic data")
    seed.add_argument("--synthetic", action="store_true", help="the load-test data set")
    seed.add_argument("--users", type=int, default=100_000)
    seed.add_argument("--listings", type=int, default=10_000)
    seed.add_argument("--categories", type=int, default=40)
    seed.add_argument("--favourites-per-user", type=int, default=3)
    seed.set_defaults(func=cmd_seed)
    token = sub.add_parser("token", help="print a dev-mode access token")
    token.add_argument("user", nargs="?", default="demo")
    token.set_defaults(func=cmd_token)
    template = sub.add_parser("table-template", help="print the CloudFormation table")
    template.add_argument("--table-name", default="HustleHubDirectory")
    template.set_defaults(func=cmd_table_template)
    phase = sub.add_parser("migrate-phase", help="the migration phases' outbox (README)")
    phase_sub = phase.add_subparsers(dest="phase_command", required=True)
    reconcile = phase_sub.add_parser(
        "reconcile", help="apply the legacy writes DynamoDB has not taken yet; exit 1 if any remain"
    )
    reconcile.add_argument("--requeue-dead", action="store_true", help="retry the dead letters too")
    reconcile.add_argument(
        "--all",
        action="store_true",
        help="queue every category, listing, user and favourite first: DynamoDB made equal"
        " to Postgres",
    )
    reconcile.add_argument(
        "--prune",
        metavar="BATCH",
        help="queue the items of this load batch whose Postgres row is gone: applying removes them",
    )
    reconcile.add_argument(
        "--concurrency",
        type=int,
        default=4,
        choices=range(1, 33),
        metavar="N",
        help="drainers at once, 1-32 (default 4): each applies one entity at a time",
    )
    reconcile.set_defaults(func=cmd_migrate_phase_reconcile)
    link_users = phase_sub.add_parser(
        "link-users",
        help="tell the legacy Postgres each Supabase user's Cognito sub; exit 1 on any refused",
    )
    link_users.add_argument(
        "--user-map",
        type=Path,
        required=True,
        help="CSV supabase_id,sub (the transform's usermap.csv)",
    )
    link_users.set_defaults(func=cmd_migrate_phase_link_users)
    migrate_parsers(sub, cmd_migrate)
    return top


def main(argv: Sequence[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    args = parser().parse_args(argv)
    args.func(args)
