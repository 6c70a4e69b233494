"""Compare the legacy side with the table: counts per entity type and a content hash per item.

The legacy side is the source rows as this run reads them (Postgres live, the CSV exports or
the export snapshot, never the items file), run through the (pure, deterministic) transform
again with the mapping the load used, so the comparison is item for item. The transform reads
every item it makes back into column values (readback.py, written independently of it) and
refuses a row whose items would not give back the row's own values, so an expected item is
the source row's values exactly: a table item equal to it carries them, and a table loaded by
a transform that altered values (trimmed a title, say) is found *changed* here, even though
it is what that transform produced.

The table side is one Scan of the table. An item is compared when its key is one the legacy
side expects or when it carries this batch's tag; the service's own items (untagged, keys of
their own) are not the migration's business and are left alone.

Findings, each counted and listed (up to `MAX_LISTED` each):
- missing: a key the legacy side expects and the table lacks;
- changed: same key, different content (the attributes that differ are named);
- extra: an item tagged with this batch that the legacy side does not produce;
- untagged: the expected content, but not tagged with this batch (rollback would miss it).
The hash leaves out the tag itself, so content is compared whatever batch wrote it.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from service.migrate.export import Source
from service.migrate.progress import Progress
from service.migrate.transform import Transformer
from service.migrate.usermap import UserMap
from service.migrate.workdir import report_json, transformed
from service.store import keys
from service.store.codec import Item, logical
from service.store.keys import BATCH_ATTRIBUTE
from service.store.scan import scan_all
from service.store.table import Table

MAX_LISTED = 100


def item_key(item: Item) -> str:
    return f"{item[keys.PK]['S']}\x1f{item[keys.SK]['S']}"


def content_hash(item: Item) -> bytes:
    # What the item says (codec.logical): packed text and schema versions compare as content.
    content = {name: value for name, value in logical(item).items() if name != BATCH_ATTRIBUTE}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.blake2b(canonical.encode(), digest_size=16).digest()


def _type(item: Item) -> str:
    value = item.get("type", {}).get("S")
    return str(value) if value else "(no type)"


@dataclass
class Finding:
    pk: str
    sk: str
    type: str
    fields: list[str] = field(default_factory=list)


@dataclass
class VerifyReport:
    batch: str
    legacy_rows: dict[str, int] = field(default_factory=dict)
    unmapped_users: int = 0
    rejected_rows: dict[str, int] = field(default_factory=dict)
    expected: Counter[str] = field(default_factory=Counter)
    found: Counter[str] = field(default_factory=Counter)
    matched: Counter[str] = field(default_factory=Counter)
    counts: Counter[str] = field(default_factory=Counter)  # per finding kind
    missing: list[Finding] = field(default_factory=list)
    changed: list[Finding] = field(default_factory=list)
    extra: list[Finding] = field(default_factory=list)
    untagged: list[Finding] = field(default_factory=list)
    scanned: int = 0

    @property
    def ok(self) -> bool:
        return not any(self.counts.values())

    def note(self, kind: str, finding: Finding) -> None:
        self.counts[kind] += 1
        listed: list[Finding] = getattr(self, kind)
        if len(listed) < MAX_LISTED:
            listed.append(finding)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)  # Counters rebuilt from pairs by asdict: replaced just below
        for name in ("expected", "found", "matched", "counts"):
            out[name] = dict(sorted(getattr(self, name).items()))
        out["ok"] = self.ok
        return out

    def text(self) -> str:
        lines = [f"verify batch {self.batch}: {'OK' if self.ok else 'MISMATCH'}"]
        lines.append(f"  legacy rows: {_pairs(self.legacy_rows)}")
        if self.unmapped_users:
            lines.append(f"  unmapped users (not migrated): {self.unmapped_users:,}")
        if any(self.rejected_rows.values()):
            lines.append(f"  rejected rows (not migrated): {_pairs(self.rejected_rows)}")
        lines.append(f"  {'type':<16} {'expected':>10} {'in table':>10} {'matching':>10}")
        lines.extend(
            f"  {kind:<16} {self.expected[kind]:>10,} {self.found[kind]:>10,}"
            f" {self.matched[kind]:>10,}"
            for kind in sorted(set(self.expected) | set(self.found))
        )
        lines.append(f"  table items scanned: {self.scanned:,}")
        for kind in ("missing", "changed", "extra", "untagged"):
            count = self.counts[kind]
            lines.append(f"  {kind}: {count:,}")
            for finding in getattr(self, kind)[:20]:
                detail = f" fields {', '.join(finding.fields)}" if finding.fields else ""
                lines.append(f"    {finding.type} {finding.pk} / {finding.sk}{detail}")
        return "\n".join(lines)


def _pairs(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {count:,}" for name, count in counts.items()) or "none"


def _differing(expected: Item, actual: Item) -> list[str]:
    names = (set(expected) | set(actual)) - {BATCH_ATTRIBUTE}
    return sorted(name for name in names if expected.get(name) != actual.get(name))


async def verify(
    source: Source, users: UserMap, table: Table, *, batch: str, progress: bool = True
) -> VerifyReport:
    report = VerifyReport(batch=batch)
    expected: dict[str, tuple[bytes, str]] = {}
    transformer = Transformer(users)
    async for _row, items in transformed(source, transformer):
        for item in items:
            expected[item_key(item)] = (content_hash(item), _type(item))
            report.expected[_type(item)] += 1
    summary = report_json(transformer.report)
    report.legacy_rows = summary["rows"]
    report.unmapped_users = summary["unmapped_count"]
    report.rejected_rows = summary["rejected_count"]

    changed: dict[str, Item] = {}
    bar = Progress("verify", len(expected)) if progress else None
    async for page in scan_all(table, ConsistentRead=True):
        report.scanned += len(page)
        for item in page:
            _compare(item, expected, batch, report, changed)
        if bar:
            bar.advance(len(page))
    if bar:
        bar.close()
    for key, (_digest, kind) in expected.items():
        pk, sk = key.split("\x1f", 1)
        report.note("missing", Finding(pk, sk, kind))
    if changed:
        await _name_changed_fields(source, users, changed, report)
    return report


def _compare(
    item: Item,
    expected: dict[str, tuple[bytes, str]],
    batch: str,
    report: VerifyReport,
    changed: dict[str, Item],
) -> None:
    key = item_key(item)
    tag = item.get(BATCH_ATTRIBUTE, {}).get("S")
    wanted = expected.pop(key, None)
    if wanted is None:
        if tag == batch:
            report.found[_type(item)] += 1
            report.note("extra", Finding(item[keys.PK]["S"], item[keys.SK]["S"], _type(item)))
        return
    digest, kind = wanted
    report.found[kind] += 1
    finding = Finding(item[keys.PK]["S"], item[keys.SK]["S"], kind)
    if content_hash(item) != digest:
        if len(changed) < MAX_LISTED:
            changed[key] = item
        report.note("changed", finding)
    elif tag != batch:
        report.note("untagged", finding)
    else:
        report.matched[kind] += 1


async def _name_changed_fields(
    source: Source, users: UserMap, changed: dict[str, Item], report: VerifyReport
) -> None:
    # Only hashes were kept; the transform is deterministic, so running it again finds the
    # expected items of the few that differ without holding every item in memory.
    by_key = {f"{f.pk}\x1f{f.sk}": f for f in report.changed}
    async for _row, items in transformed(source, Transformer(users)):
        for item in items:
            key = item_key(item)
            if key in changed and key in by_key:
                by_key[key].fields = _differing(item, changed[key])
