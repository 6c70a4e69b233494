"""`hustlehub migrate ...`: export, transform, load, verify, rollback, run.

(service/cli.py adds the family's other members to the same parser: `generate`, which is dev
tooling, and the legacy phases' `reconcile` and `link-users`, which are service.transition's.)

Every step reads and writes one working directory (workdir.py), so each can be run, checked
and re-run on its own; `run` does export, transform, load and verify in order. DynamoDB comes
from the usual HUSTLEHUB_* settings (endpoint, table, region; production mode asks nothing of
the service's own, see settings.py); the legacy database from `--dsn` or
HUSTLEHUB_MIGRATE_DSN. `generate` writes synthetic rows only into the database its `--dsn`
names, never the one HUSTLEHUB_MIGRATE_DSN names, and only into empty tables.

Exit codes: 0 done; 1 verify found a mismatch; 2 refused: input the command cannot use (an
unreachable or schema-less database, a malformed file, no such table or pool, an endpoint
that does not answer within its bound, a checkpoint or items file the manifest does not
describe, a load DynamoDB stopped), or what the operator must decide first (unmapped users,
rejected rows, a mapping that gives one Cognito sub to two Supabase users), said in one line.

Heavy imports (asyncpg, aiobotocore) happen inside the commands, as in service/cli.py.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from service.config import Settings
from service.errors import StoreError
from service.migrate.errors import Refused, TargetError, Unusable

if TYPE_CHECKING:
    from service.migrate.export import Source
    from service.migrate.usermap import UserMap
    from service.migrate.workdir import Manifest, WorkDir

EXIT_MISMATCH, EXIT_REFUSED = 1, 2
_DESCRIPTION = (
    "The Supabase migration. export, transform, load and verify read and write one working"
    " directory, so each can be run, checked and re-run on its own; run does all four in"
    " order; rollback deletes a load batch. reconcile and link-users operate the legacy"
    " phases (HUSTLEHUB_MIGRATION__*). Exit codes: 0 done; 1 verify found a mismatch,"
    " reconcile left entries behind, or link-users refused a pair; 2 refused (unmapped users"
    " or rejected rows without the flag that allows them, bad input)."
)


def _settings() -> Settings:
    from service.migrate.settings import MigrateSettings

    return MigrateSettings()


def _dsn(args: argparse.Namespace, settings: Settings) -> str | None:
    if getattr(args, "dsn", None):
        return str(args.dsn)
    return settings.migrate_dsn.get_secret_value() if settings.migrate_dsn else None


@asynccontextmanager
async def _source(
    args: argparse.Namespace, settings: Settings, work: WorkDir | None
) -> AsyncIterator[Source]:
    """--csv-dir, else --dsn (or the setting), else the work directory's export snapshot."""
    from service.migrate.export import PostgresSource, SnapshotSource, connect
    from service.migrate.supabase_csv import CsvSource

    dsn = _dsn(args, settings)
    if getattr(args, "csv_dir", None):
        yield CsvSource(Path(args.csv_dir))
    elif dsn and (work is None or getattr(args, "dsn", None) or not work.export.exists()):
        conn = await connect(dsn)
        try:
            source = PostgresSource(conn)
            async with source.snapshot():
                yield source
        finally:
            await conn.close()
    elif work is not None and work.export.exists():
        yield SnapshotSource(work.export)
    else:
        raise Refused("no legacy source: give --dsn, --csv-dir, or export into --work first")


def _work(args: argparse.Namespace, *, create: bool = False) -> WorkDir:
    from service.migrate.workdir import WorkDir

    root = Path(args.work)
    if create:
        root.mkdir(parents=True, exist_ok=True)
    elif not root.is_dir():
        raise Refused(f"no working directory {root}: export and transform into it first")
    return WorkDir(root)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def _export(args: argparse.Namespace) -> None:
    from service.migrate.export import write_snapshot
    from service.migrate.progress import Progress

    work = _work(args, create=True)
    bar = Progress("export", None)
    async with _source(args, _settings(), None) as source:
        counts = await write_snapshot(source, work.export, on_row=bar.advance)
    bar.close()
    print(" ".join(f"{table}={count}" for table, count in counts.items()))


async def _user_map(
    args: argparse.Namespace, settings: Settings, source: Source, work: WorkDir
) -> UserMap:
    from service.migrate import rows, usermap

    if args.user_map and not args.cognito_pool_id:
        return usermap.read_csv(Path(args.user_map))
    decided = usermap.read_entries(Path(args.user_map)) if args.user_map else None
    pool = args.cognito_pool_id or settings.cognito_user_pool_id
    endpoint = args.cognito_endpoint or settings.cognito_endpoint
    at = f"Cognito at {endpoint or 'AWS ' + settings.cognito_region}"
    async with usermap.cognito_client(region=settings.cognito_region, endpoint=endpoint) as idp:
        emails = await usermap.cognito_emails(idp, pool, where=at)
    users = [u async for u in source.read(rows.AuthUser)]
    try:
        return usermap.match_by_email(users, emails, decided=decided)
    except usermap.CollisionError as exc:
        _write_collisions(work.root / "collisions.csv", exc.collisions)
        raise Refused(
            f"{exc}. All of them are in {work.root / 'collisions.csv'}: say in a CSV of "
            "supabase_id,sub which user each sub is (an empty sub leaves a user unmapped) and "
            "give it as --user-map with --cognito-pool-id"
        ) from exc


def _write_collisions(path: Path, collisions: Any) -> None:
    import csv

    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sub", "supabase_id", "matched_by"])
        for collision in collisions:
            for claim in collision.claims:
                writer.writerow([collision.sub, claim.supabase_id, claim.how])


def _announce(manifest: Manifest) -> None:
    report = manifest.report
    _say(f"transform: {manifest.items:,} items from rows {report['rows']}")
    _say(f"transform: items per type {report['items']}")
    if manifest.unmapped:
        sample = ", ".join(report["unmapped_users"][:5])
        _say(
            f"transform: {manifest.unmapped:,} unmapped users (no Cognito sub), left out: "
            f"{report['left_out']}; e.g. {sample}"
        )
    if manifest.rejected:
        first = report["rejected"][0]
        _say(
            f"transform: rejected rows {report['rejected_count']}; e.g. {first['table']} "
            f"{first['id']}: {first['reason']}"
        )


async def _transform(args: argparse.Namespace) -> Manifest:
    from service.migrate.workdir import write_items

    settings, work = _settings(), _work(args, create=True)
    async with _source(args, settings, work) as source:
        users = await _user_map(args, settings, source, work)
        manifest = await write_items(source, users, work)
    _announce(manifest)
    print(f"items={manifest.items} digest={manifest.digest} unmapped={manifest.unmapped}")
    return manifest


def _check_load_allowed(args: argparse.Namespace, manifest: Manifest) -> None:
    from service.migrate.transform import MAX_BATCH_BYTES

    if not 0 < len(args.batch.encode()) <= MAX_BATCH_BYTES:
        raise Refused(f"a batch id is 1 to {MAX_BATCH_BYTES} bytes (UTF-8)")
    if manifest.unmapped and not args.allow_unmapped:
        raise Refused(
            f"{manifest.unmapped:,} users have no Cognito sub (see manifest.json); map them, "
            "or pass --allow-unmapped to migrate everyone else and leave them out"
        )
    if manifest.rejected and not args.allow_rejected:
        raise Refused(
            f"{manifest.rejected:,} rows were rejected by the models (see manifest.json); fix "
            "them in the legacy database, or pass --allow-rejected to leave them out"
        )


async def _load(args: argparse.Namespace) -> None:
    from service.migrate.load import load
    from service.migrate.target import open_table
    from service.migrate.workdir import check_items, read_manifest

    work = _work(args)
    manifest = read_manifest(work)
    _check_load_allowed(args, manifest)
    check_items(work, manifest)
    async with open_table(_settings()) as (table, observer):
        result = await load(
            table, work, manifest, batch=args.batch, concurrency=args.concurrency,
            resume=not args.restart,
        )  # fmt: skip
    print(
        f"batch={args.batch} written={result.written} resumed_after={result.skipped} "
        f"total={result.total} seconds={result.seconds:.1f} items_per_s={result.rate:.0f} "
        f"unprocessed_retried={observer.unprocessed_items} retries={observer.retries}"
    )


async def _verify(args: argparse.Namespace) -> bool:
    from service.migrate import usermap
    from service.migrate.target import open_table
    from service.migrate.verify import verify
    from service.migrate.workdir import write_json

    settings, work = _settings(), _work(args)
    users = usermap.read_csv(Path(args.user_map) if args.user_map else work.usermap)
    async with _source(args, settings, work) as source, open_table(settings) as (table, _):
        report = await verify(source, users, table, batch=args.batch)
    path = Path(args.report) if args.report else work.verify_report
    write_json(path, report.to_json())
    print(report.text())
    print(f"report: {path}")
    return report.ok


async def _rollback(args: argparse.Namespace) -> None:
    from service.migrate.rollback import rollback
    from service.migrate.target import open_table

    async with open_table(_settings()) as (table, _):
        if args.dry_run:
            found = await rollback(table, batch=args.batch, dry_run=True, on_item=print)
            print(
                f"batch={args.batch} would_delete={sum(found.values())} "
                f"{dict(sorted(found.items()))} (dry run: nothing deleted)"
            )
            return
        deleted = await rollback(table, batch=args.batch)
    print(f"batch={args.batch} deleted={sum(deleted.values())} {dict(sorted(deleted.items()))}")


async def _run(args: argparse.Namespace) -> bool:
    await _export(args)
    args.dsn = args.csv_dir = None  # from here on the snapshot is the legacy side
    await _transform(args)
    await _load(args)
    return await _verify(args)


def command(args: argparse.Namespace) -> None:
    step = args.migrate_command
    try:
        if step == "export":
            asyncio.run(_export(args))
        elif step == "transform":
            asyncio.run(_transform(args))
        elif step == "load":
            asyncio.run(_load(args))
        elif step == "rollback":
            asyncio.run(_rollback(args))
        elif step in ("verify", "run"):
            ok = asyncio.run(_verify(args) if step == "verify" else _run(args))
            if not ok:
                sys.exit(EXIT_MISMATCH)
    except Refused as exc:
        _say(f"migrate {step}: refused: {exc}")
        sys.exit(EXIT_REFUSED)
    except Unusable as exc:
        _say(f"migrate {step}: {exc}")
        sys.exit(EXIT_REFUSED)
    except StoreError as exc:  # verify's or rollback's Scan, past the table's own retries
        _say(f"migrate {step}: {TargetError(f'DynamoDB stopped the {step}: {exc}')}")
        sys.exit(EXIT_REFUSED)
    except OSError as exc:  # a file or directory the operator named
        _say(f"migrate {step}: {exc}")
        sys.exit(EXIT_REFUSED)


def _legacy_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dsn", help="the legacy Postgres to read (default: HUSTLEHUB_MIGRATE_DSN)"
    )
    parser.add_argument(
        "--csv-dir",
        help="a directory of Supabase CSV exports to read instead (default: read the database)",
    )


def _work_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--work", required=True, help="the migration's working directory (required)"
    )


def _mapping_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--user-map",
        help="CSV supabase_id,sub giving each user's Cognito sub; with --cognito-pool-id it"
        " decides for the users it names (an empty sub: leave unmapped) and the pool maps the"
        " rest (default: map by email through Cognito)",
    )
    parser.add_argument(
        "--cognito-pool-id",
        help="map by email through ListUsers on this pool (default:"
        " HUSTLEHUB_COGNITO_USER_POOL_ID)",
    )
    parser.add_argument(
        "--cognito-endpoint",
        help="Cognito endpoint for that lookup (default: HUSTLEHUB_COGNITO_ENDPOINT, else AWS)",
    )


def _load_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--batch", required=True, help="migration batch id that tags every item (required)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=8, help="chunks of 25 items in flight at once"
    )
    parser.add_argument(
        "--restart", action="store_true", help="start from the first item, ignoring the checkpoint"
    )
    parser.add_argument(
        "--allow-unmapped", action="store_true", help="load, leaving the unmapped users out"
    )
    parser.add_argument(
        "--allow-rejected", action="store_true", help="load, leaving the rejected rows out"
    )


def add_parser(sub: Any, func: Callable[[argparse.Namespace], None]) -> Any:
    """Add `migrate` and its steps to `sub`; returns the steps' subparsers, for the commands
    of the family that live elsewhere."""
    migrate = sub.add_parser(
        "migrate",
        help="move the legacy Supabase data into the table; operate the legacy phases",
        description=_DESCRIPTION,
    )
    steps = migrate.add_subparsers(dest="migrate_command", required=True)
    export = steps.add_parser("export", help="legacy rows into WORK/export")
    _legacy_options(export)
    _work_option(export)
    transform = steps.add_parser("transform", help="rows into WORK/items.jsonl")
    _legacy_options(transform)
    _work_option(transform)
    _mapping_options(transform)
    load = steps.add_parser("load", help="WORK/items.jsonl into the table (resumable)")
    _work_option(load)
    _load_options(load)
    verify = steps.add_parser("verify", help="legacy side against the table; exit 1 on mismatch")
    _legacy_options(verify)
    _work_option(verify)
    verify.add_argument("--batch", required=True, help="the load batch to check (required)")
    verify.add_argument(
        "--user-map",
        help="CSV supabase_id,sub the transform used (default: WORK/usermap.csv)",
    )
    verify.add_argument(
        "--report", help="where the JSON report goes (default: WORK/verify-report.json)"
    )
    rollback = steps.add_parser("rollback", help="delete every item of one batch")
    rollback.add_argument("--batch", required=True, help="the load batch to delete (required)")
    rollback.add_argument(
        "--dry-run",
        action="store_true",
        help="print each item (type, PK, SK) it would delete and the counts; delete nothing",
    )
    run = steps.add_parser("run", help="export, transform, load and verify")
    _legacy_options(run)
    _work_option(run)
    _mapping_options(run)
    _load_options(run)
    run.add_argument(
        "--report", help="where the JSON report goes (default: WORK/verify-report.json)"
    )
    for step in (export, transform, load, verify, rollback, run):
        step.set_defaults(func=func)
    return steps
