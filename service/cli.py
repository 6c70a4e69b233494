"""`hustlehub`: serve, dev, create-table, seed, token, table-template, migrate, schema.
(The AWS deployment is a CDK app, not a command: `make infra`, docs/deploy.md.)

The one entry point: the only module that may import the dev tooling (service.dev) and the
migration's run-time package (service.transition) beside the runtime. Heavy imports happen
inside each command: `serve --workers N` must set up prometheus_client's multiprocess
directory before prometheus_client is first imported.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from service.config import Settings
from service.migrate.cli import EXIT_REFUSED
from service.migrate.cli import add_parser as migrate_parsers
from service.migrate.cli import command as cmd_migrate

if TYPE_CHECKING:
    from service.transition import Drained

# service.transition.MAX_CONCURRENCY, without importing asyncpg to build the parser.
MAX_RECONCILE_CONCURRENCY = 32


def _settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]


def cmd_serve(args: argparse.Namespace) -> None:
    overrides: dict[str, object] = {}
    if args.workers:
        overrides["workers"] = args.workers
    if args.port is not None:
        overrides["port"] = args.port
    settings = _settings(**overrides)
    _configure_logs(settings)
    if settings.workers > 1:
        _serve_workers(settings, drain_s=args.drain)
    else:
        from service.app import create_app
        from service.server import bind, run_one

        run_one(settings, create_app, bind(settings), drain_s=args.drain)


def _configure_logs(settings: Settings) -> None:
    from service.runtime import logs

    logs.configure_from(settings)


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
    from service.dev.example import AppFactory, attach
    from service.server import bind, run_one

    overrides: dict[str, object] = {"mode": "dev"}
    if args.port is not None:
        overrides["port"] = args.port
    with dev_environment(_settings(**overrides)) as settings:
        _configure_logs(settings)
        sock = bind(settings)
        port = sock.getsockname()[1]
        factory: AppFactory = create_app
        page: str | None = None
        if not args.no_example:
            settings, factory, page = attach(
                settings,
                create_app,
                api_port=port,
                port=args.example_port,
                state_json=STATE_FILE.read_text(),
            )
        base = f"http://{settings.host}:{port}"
        print(
            f"\nHustle Hub (dev) on {base}\n"
            f"  curl {base}/v1/categories\n"
            f"  TOKEN=$(.venv/bin/hustlehub token admin)\n"
            f'  curl -H "Authorization: Bearer $TOKEN" {base}/v1/me\n'
            f"  sign-in state: {STATE_FILE}\n"
            + (f"  example client (another origin): {page}\n" if page else ""),
            flush=True,
        )
        run_one(settings, factory, sock, drain_s=0)


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


def cmd_dev_pool(args: argparse.Namespace) -> None:
    import dataclasses

    from service.dev.devmode import prepare_pool

    pool = asyncio.run(prepare_pool(_settings(), endpoint=args.endpoint, name=args.name))
    if args.public_endpoint:
        pool = dataclasses.replace(pool, endpoint=args.public_endpoint)
    # The pool, its client and the demo users' passwords: what `hustlehub token --state` reads.
    print(pool.to_json())


def cmd_token(args: argparse.Namespace) -> None:
    from service.dev.devmode import STATE_FILE
    from service.dev.devpool import DevPool, issue_access_token

    state = Path(args.state) if args.state else STATE_FILE
    if not state.exists():
        sys.exit(f"{state} not found: start dev mode first (make run)")
    pool = DevPool.from_json(state.read_text())
    if args.user not in pool.users:
        sys.exit(f"unknown dev user {args.user!r}; known: {', '.join(sorted(pool.users))}")
    print(asyncio.run(issue_access_token(pool, args.user)))


def cmd_table_template(args: argparse.Namespace) -> None:
    from service.store.schema import cloudformation_template

    print(json.dumps(cloudformation_template(args.table_name), indent=2))


def cmd_migrate_generate(args: argparse.Namespace) -> None:
    from service.migrate.errors import Unusable
    from service.migrate.export import describe_dsn, same_database

    # Only the database named on the command line: HUSTLEHUB_MIGRATE_DSN names the real
    # Supabase, which synthetic rows must never reach.
    real = _migrate_settings().migrate_dsn
    if real is not None and same_database(args.dsn, real.get_secret_value()):
        print(
            f"migrate generate: refused: --dsn names {describe_dsn(args.dsn)}, the database"
            " HUSTLEHUB_MIGRATE_DSN names: generate writes synthetic rows, never into the"
            " database migrated from",
            file=sys.stderr,
        )
        sys.exit(EXIT_REFUSED)
    try:
        written = asyncio.run(_generate(args.dsn, args))
    except Unusable as exc:  # an unreachable database, tables that already hold rows
        print(f"migrate generate: refused: {exc}", file=sys.stderr)
        sys.exit(EXIT_REFUSED)
    print(" ".join(f"{table}={count}" for table, count in written.items()))


async def _generate(dsn: str, args: argparse.Namespace) -> dict[str, int]:
    from service.dev.seed.supabase import Scale, generate
    from service.migrate.export import connect
    from service.migrate.progress import Progress

    scale = Scale(args.users, args.listings, args.categories, args.favourites, args.seed)
    conn = await connect(dsn)
    bar = Progress("generate", scale.rows)
    try:
        written = await generate(conn, scale, on_rows=bar.advance)
    finally:
        bar.close()
        await conn.close()
    return written


def _migrate_settings() -> Settings:
    # The migrate family signs no cursors and verifies no tokens: production does not make it
    # set the service's cursor secret or app client ids (service.migrate.settings).
    from service.migrate.settings import MigrateSettings

    return MigrateSettings()


def _legacy_settings() -> Settings:
    settings = _migrate_settings()
    if settings.migration.legacy_dsn is None:
        sys.exit("HUSTLEHUB_MIGRATION__LEGACY_DSN must name the legacy Postgres")
    return settings


def cmd_migrate_reconcile(args: argparse.Namespace) -> None:
    drained = asyncio.run(
        reconcile_command(
            _legacy_settings(),
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


async def reconcile_command(settings: Settings, **options: Any) -> Drained:
    """What `migrate reconcile` runs: service.transition's reconcile with `options`, and a
    cache built as the service builds its own, so that what this process applies is
    invalidated in every instance (through Redis)."""
    from cache import NullObserver
    from service.runtime.cachebuild import open_cache
    from service.transition import reconcile

    async with open_cache(settings, observer=NullObserver()) as cache:
        return await reconcile(settings, invalidate=cache.invalidate, **options)


def cmd_migrate_link_users(args: argparse.Namespace) -> None:
    from service.migrate.usermap import MappingError, read_csv
    from service.transition import link_users

    settings = _legacy_settings()
    try:
        users = read_csv(args.user_map)
    except (OSError, MappingError) as exc:  # the operator's file: refused, as `migrate` does
        print(f"link-users: {exc}", file=sys.stderr)
        sys.exit(EXIT_REFUSED)
    linked = asyncio.run(link_users(settings.migration, users.subs))
    print(f"identities: {linked.linked} linked, {linked.already} already linked")
    for label, ids in (
        ("no such Supabase user", linked.unknown),
        ("sub or user linked otherwise", linked.conflicting),
    ):
        for supabase_id in ids:
            print(f"{label}: {supabase_id}", file=sys.stderr)
    if linked.unknown or linked.conflicting:
        sys.exit(1)


def cmd_schema_upgrade(args: argparse.Namespace) -> None:
    from service.store import versions

    settings = _settings()
    written = settings.item_schema_write_version
    if written is not None and written < versions.CURRENT and not args.dry_run:
        print(
            f"schema upgrade: refused: HUSTLEHUB_ITEM_SCHEMA_WRITE_VERSION={written} says a"
            f" release that cannot read version {versions.CURRENT} may still run",
            file=sys.stderr,
        )
        sys.exit(EXIT_REFUSED)
    counts = asyncio.run(_schema_upgrade(settings, args))
    print(json.dumps(counts, indent=2))


async def _schema_upgrade(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    from tqdm import tqdm

    from service.store.client import dynamodb_client
    from service.store.observer import NullStoreObserver
    from service.store.rules import ItemRules
    from service.store.table import Table
    from service.store.upgrade import Checkpoint, Options, Upgrade

    options = Options(
        segments=args.segments,
        dry_run=args.dry_run,
        read_units_per_s=args.read_units,
        write_units_per_s=args.write_units,
        page_size=args.page_size,
    )
    path = args.checkpoint or Path(f"var/schema-upgrade-{settings.table_name}.json")
    checkpoint = Checkpoint(
        path, table=settings.table_name, segments=args.segments, dry_run=args.dry_run
    )
    if args.restart:
        path.unlink(missing_ok=True)
    resumed = checkpoint.load()
    async with dynamodb_client(settings) as client:
        table = Table.from_settings(client, settings, observer=NullStoreObserver())
        described = await table.call("DescribeTable", TableName=table.name)
        # DynamoDB refreshes ItemCount about every six hours: the bar's total is a guess.
        total = int(described["Table"].get("ItemCount", 0)) or None
        with tqdm(total=total, initial=checkpoint.counts.scanned, unit="item") as bar:
            if resumed:
                bar.write(f"resuming from {path}: {checkpoint.counts.scanned} items scanned")
            upgrade = Upgrade(
                table, ItemRules.from_settings(settings), options, checkpoint, on_items=bar.update
            )
            counts = await upgrade.run()
    return {"dry_run": args.dry_run, "checkpoint": str(path), **counts.to_json()}


def _schema_parsers(sub: Any) -> None:
    schema = sub.add_parser("schema", help="item schema versions (docs/table.md)")
    steps = schema.add_subparsers(dest="step", required=True)
    about = (
        "rewrite items older than the current schema version in place: parallel Scan"
        " segments, resumable from a checkpoint, within a capacity budget, never over a newer"
        " write"
    )
    upgrade = steps.add_parser("upgrade", help=about, description=about)
    upgrade.add_argument("--segments", type=int, default=4, help="parallel Scan segments")
    upgrade.add_argument(
        "--read-units", type=float, default=100.0, help="read capacity units per second at most"
    )
    upgrade.add_argument(
        "--write-units", type=float, default=50.0, help="write capacity units per second at most"
    )
    upgrade.add_argument("--page-size", type=int, default=100, help="items per Scan page")
    upgrade.add_argument(
        "--dry-run", action="store_true", help="count what would be upgraded, write nothing"
    )
    upgrade.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="where progress is kept (default: var/schema-upgrade-<table>.json)",
    )
    upgrade.add_argument(
        "--restart", action="store_true", help="ignore an earlier run's checkpoint"
    )
    upgrade.set_defaults(func=cmd_schema_upgrade)


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Adds "(default: X)" to an option's help, unless the help says its default itself or
    there is none to say (a required option, --help, --version)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "default" in text or action.required or action.default is argparse.SUPPRESS:
            return text
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    # Subparsers are made of the parser's own class, so every level gets the formatter.
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Help)
        super().__init__(*args, **kwargs)


def _version() -> str:
    try:
        return version("hustlehub-directory")
    except PackageNotFoundError:  # a source tree that was never installed
        return "unknown"


def parser() -> argparse.ArgumentParser:
    top = _Parser(prog="hustlehub", description=__doc__.split("\n\n")[0])
    top.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = top.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the service (settings from HUSTLEHUB_* variables)")
    serve.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes sharing the one port (default: HUSTLEHUB_WORKERS, 1)",
    )
    serve.add_argument(
        "--port", type=int, default=None, help="port to listen on (default: HUSTLEHUB_PORT, 8080)"
    )
    serve.add_argument(
        "--drain", type=float, default=5.0, help="seconds readiness reports 503 before closing"
    )
    serve.set_defaults(func=cmd_serve)
    dev = sub.add_parser("dev", help="dev mode: embedded DynamoDB + Cognito, demo data")
    dev.add_argument(
        "--port", type=int, default=None, help="port to listen on (default: HUSTLEHUB_PORT, 8080)"
    )
    dev.add_argument(
        "--example-port",
        type=int,
        default=8081,
        help="port of the example browser client, an origin of its own (0, or taken: any free"
        " port; default 8081)",
    )
    dev.add_argument(
        "--no-example", action="store_true", help="do not serve the example browser client"
    )
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
    seed.add_argument(
        "--synthetic", action="store_true", help="load the load-test data set, not the demo"
    )
    seed.add_argument("--users", type=int, default=100_000, help="synthetic: users")
    seed.add_argument("--listings", type=int, default=10_000, help="synthetic: listings")
    seed.add_argument("--categories", type=int, default=40, help="synthetic: categories")
    seed.add_argument(
        "--favourites-per-user", type=int, default=3, help="synthetic: favourites of each user"
    )
    seed.set_defaults(func=cmd_seed)
    token = sub.add_parser("token", help="print a dev-mode access token")
    token.add_argument("user", nargs="?", default="demo", help="the dev user to sign in as")
    token.add_argument(
        "--state", help="the pool's JSON (default var/dev-state.json; `dev-pool` prints one)"
    )
    token.set_defaults(func=cmd_token)
    about = "make the dev pool and its demo users on a Cognito emulator, print it as JSON"
    pool = sub.add_parser("dev-pool", help=about, description=about)
    pool.add_argument("--endpoint", required=True, help="the emulator, moto's server (required)")
    pool.add_argument("--name", default="hustlehub-dev", help="the pool's name")
    pool.add_argument(
        "--public-endpoint", help="the emulator as seen from where the JSON is used, if not that"
    )
    pool.set_defaults(func=cmd_dev_pool)
    template = sub.add_parser("table-template", help="print the CloudFormation table")
    template.add_argument("--table-name", default="HustleHubDirectory", help="the table's name")
    template.set_defaults(func=cmd_table_template)
    _schema_parsers(sub)
    steps = migrate_parsers(sub, cmd_migrate)
    _generate_parser(steps)
    _phase_parsers(steps)
    return top


def _generate_parser(steps: Any) -> None:
    about = "fill an empty legacy database with a realistic data set (dev tooling)"
    gen = steps.add_parser("generate", help=about, description=about)
    gen.add_argument(
        "--dsn",
        required=True,
        help="the database to fill, never the one HUSTLEHUB_MIGRATE_DSN names; its tables must"
        " be empty (required)",
    )
    gen.add_argument("--users", type=int, default=100_000, help="Supabase users")
    gen.add_argument("--listings", type=int, default=1_000, help="listings")
    gen.add_argument("--categories", type=int, default=40, help="categories")
    gen.add_argument("--favourites", type=int, default=300_000, help="favourites in all")
    gen.add_argument(
        "--seed", type=int, default=1, help="random seed: the same seed gives the same rows"
    )
    gen.set_defaults(func=cmd_migrate_generate)


def _phase_parsers(steps: Any) -> None:
    about = (
        "legacy phases: apply the legacy writes DynamoDB has not taken yet, invalidating what"
        " they touch; exit 1 if any remain (settings: HUSTLEHUB_MIGRATION__*)"
    )
    reconcile = steps.add_parser("reconcile", help=about, description=about)
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
        help="queue the items of this load batch whose Postgres row is gone, so that applying"
        " removes them (default: no pruning)",
    )
    reconcile.add_argument(
        "--concurrency",
        type=int,
        default=4,
        choices=range(1, MAX_RECONCILE_CONCURRENCY + 1),
        metavar="N",
        help=f"drainers at once, 1-{MAX_RECONCILE_CONCURRENCY}: each applies one entity at a time",
    )
    reconcile.set_defaults(func=cmd_migrate_reconcile)
    about = (
        "legacy phases: tell the legacy Postgres each Supabase user's Cognito sub; exit 1 on"
        " any pair refused, 2 on an unreadable map (settings: HUSTLEHUB_MIGRATION__*)"
    )
    link_users = steps.add_parser("link-users", help=about, description=about)
    link_users.add_argument(
        "--user-map",
        type=Path,
        required=True,
        help="CSV supabase_id,sub, as the transform's usermap.csv (required)",
    )
    link_users.set_defaults(func=cmd_migrate_link_users)


EXIT_BAD_SETTINGS = 2


def settings_errors(exc: ValidationError) -> list[str]:
    """One line per bad setting, named as its variable (`HUSTLEHUB_PORT: ...`). Never the
    value: pydantic's own rendering shows the input, which may be a secret."""
    prefix = Settings.model_config.get("env_prefix", "")
    nested = Settings.model_config.get("env_nested_delimiter") or "__"
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        name = "".join(
            f"[{part}]" if isinstance(part, int) else f"{nested}{part}".upper()
            for part in error["loc"]
        ).removeprefix(nested)
        message = error["msg"].removeprefix("Value error, ")
        lines.append(f"{prefix}{name}: {message}" if name else message)
    return lines


def _is_settings(exc: ValidationError) -> bool:
    classes: list[type[Settings]] = [Settings, *Settings.__subclasses__()]
    return exc.title in {cls.__name__ for cls in classes}


def main(argv: Sequence[str] | None = None) -> None:
    from service.runtime import logs

    # Readable lines until a command has its settings (`serve` and `dev` then configure the
    # level and format they name).
    logs.configure()
    args = parser().parse_args(argv)
    try:
        args.func(args)
    except ValidationError as exc:
        if not _is_settings(exc):
            raise
        for line in settings_errors(exc):
            print(line, file=sys.stderr)
        sys.exit(EXIT_BAD_SETTINGS)
