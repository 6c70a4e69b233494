"""The migration's working directory: what each step leaves for the next.

    export/<table>.jsonl   the legacy rows (export.py)
    usermap.csv            supabase_id,sub as resolved by the transform (usermap.py)
    items.jsonl            the table's items, one typed DynamoDB item a line (transform)
    manifest.json          the transform's report, the item count and the items' digest
    checkpoint.json        how far the load got (checkpoint.py)
    verify-report.json     the last verification (verify.py)
    collisions.csv         sub,supabase_id,matched_by: a refused mapping's collisions (usermap.py)

The items' digest ties a checkpoint to the items it counted: a transform run again over
changed rows gives another digest, and a load resumed over it starts from the beginning. The
load also checks the items file against the manifest's count and digest before it writes
anything (`check_items`), so a truncated, edited or foreign items file is refused, not loaded.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.migrate import rows
from service.migrate.errors import WorkError
from service.migrate.export import Source
from service.migrate.transform import Transformer, TransformReport
from service.migrate.usermap import UserMap
from service.store.codec import Item, from_json, to_json


@dataclass(frozen=True, slots=True)
class WorkDir:
    root: Path

    @property
    def export(self) -> Path:
        return self.root / "export"

    @property
    def usermap(self) -> Path:
        return self.root / "usermap.csv"

    @property
    def items(self) -> Path:
        return self.root / "items.jsonl"

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    @property
    def checkpoint(self) -> Path:
        return self.root / "checkpoint.json"

    @property
    def verify_report(self) -> Path:
        return self.root / "verify-report.json"


@dataclass(frozen=True, slots=True)
class Manifest:
    items: int
    digest: str
    report: dict[str, Any]

    @property
    def unmapped(self) -> int:
        return int(self.report["unmapped_count"])

    @property
    def rejected(self) -> int:
        return sum(self.report["rejected_count"].values())


def write_json(path: Path, value: object) -> None:
    """Whole or not at all: a reader (or a resumed run after a kill) never sees half a file."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(partial, path)


def report_json(report: TransformReport) -> dict[str, Any]:
    # Not dataclasses.asdict: it rebuilds a Counter from (key, value) pairs, counting pairs.
    out: dict[str, Any] = {
        name: dict(sorted(getattr(report, name).items()))
        for name in ("rows", "items", "left_out", "rejected_count")
    }
    out["rejected"] = [dataclasses.asdict(r) for r in report.rejected]
    out["unmapped_users"] = list(report.unmapped_users)
    out["unmapped_count"] = report.unmapped_count
    return out


def read_json(path: Path, *, missing: str) -> Any:
    """A working file's JSON; `missing` says what to do when there is none."""
    if not path.exists():
        raise WorkError(f"{path} does not exist: {missing}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise WorkError(f"{path} is unreadable ({exc})") from exc


def read_manifest(work: WorkDir) -> Manifest:
    raw = read_json(work.manifest, missing="run transform first")
    try:
        manifest = Manifest(items=raw["items"], digest=raw["digest"], report=raw["report"])
        valid = (
            isinstance(manifest.items, int)
            and manifest.items >= 0
            and isinstance(manifest.digest, str)
            and isinstance(manifest.report, dict)
            and manifest.unmapped >= 0
            and manifest.rejected >= 0
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise WorkError(f"{work.manifest} is not a transform's manifest ({exc!r})") from exc
    if not valid:
        raise WorkError(f"{work.manifest} is not a transform's manifest")
    return manifest


def check_items(work: WorkDir, manifest: Manifest) -> None:
    """Refuse an items file that is not the one the manifest describes: shorter, longer,
    edited, or of another transform. One pass over the file, no JSON parsing."""
    if not work.items.exists():
        raise WorkError(f"{work.items} does not exist: run transform first")
    digest, count = hashlib.sha256(), 0
    with work.items.open("rb") as data:
        while block := data.read(1 << 20):
            digest.update(block)
            count += block.count(b"\n")
    if count != manifest.items:
        raise WorkError(
            f"{work.items} holds {count:,} items, {work.manifest.name} says {manifest.items:,}: "
            "run transform again"
        )
    if digest.hexdigest() != manifest.digest:
        raise WorkError(
            f"{work.items} is not the file {work.manifest.name} describes (its digest differs): "
            "run transform again"
        )


async def transformed(
    source: Source, transformer: Transformer
) -> AsyncIterator[tuple[rows.Row, list[Item]]]:
    """Every accepted row of `source` with its items, in the transform's order: catalogue,
    users, favourites."""
    async for auth_user in source.read(rows.AuthUser):
        transformer.auth_user(auth_user)
    categories = [row async for row in source.read(rows.Category)]
    listings = [row async for row in source.read(rows.Listing)]
    for pair in transformer.catalogue(categories, listings):
        yield pair
    async for profile in source.read(rows.Profile):
        if items := transformer.profile(profile):
            yield profile, items
    async for favourite in source.read(rows.Favorite):
        if items := transformer.favourite(favourite):
            yield favourite, items


async def write_items(source: Source, users: UserMap, work: WorkDir) -> Manifest:
    transformer = Transformer(users)
    digest = hashlib.sha256()
    count = 0
    partial = work.items.with_name(work.items.name + ".partial")
    with partial.open("w", encoding="utf-8") as out:
        async for _row, items in transformed(source, transformer):
            for item in items:
                line = json.dumps(to_json(item), separators=(",", ":"), ensure_ascii=False) + "\n"
                digest.update(line.encode())
                out.write(line)
                count += 1
    os.replace(partial, work.items)
    manifest = Manifest(count, digest.hexdigest(), report_json(transformer.report))
    write_json(work.manifest, dataclasses.asdict(manifest))
    users.write_csv(work.usermap)
    return manifest


def read_items(work: WorkDir, *, skip: int = 0) -> Iterator[Item]:
    with work.items.open(encoding="utf-8") as lines:
        for index, line in enumerate(lines):
            if index >= skip:
                yield _item(work, index, line)


def _item(work: WorkDir, index: int, line: str) -> Item:
    try:
        item = json.loads(line)
    except ValueError as exc:
        raise WorkError(f"{work.items} line {index + 1} is not an item ({exc})") from exc
    if not isinstance(item, dict):
        raise WorkError(f"{work.items} line {index + 1} is not an item")
    return from_json(item)
