"""Item schema versions: what each one is, and reading an older one as the current.

Every item carries `schemaVersion` (an item without one is version 1: the releases before
versions were written wrote none). A reader accepts the current version and the previous one,
upgrading the previous on read (`upgraded`); an item newer than the reader knows is read as
the current one, its unknown attributes left alone. A writer writes the version its settings
name (`ItemRules.write_version`, the current by default) and never removes an attribute it
does not know: updates SET what they change, and a write that replaces an item (a listing's
copy moving to another category) carries the unknown attributes over.

version  what it changed                                            an older reader sees
1        (none: the format before versions)                          -
2        `schemaVersion` on every item; a description of at least   binary where it expects a
         `packing.MIN_BYTES` stored packed (binary, zlib)            string: so a deploy writes
                                                                     1 until no release older
                                                                     than 2 runs (docs/table.md)

A change of format adds a version here, with the step that reads the previous one as the new
one (`_STEPS`), and `hustlehub schema upgrade` rewrites the remaining older items in place
(service.store.upgrade), so that the release after may drop the step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

ATTRIBUTE = "schemaVersion"
# Set on the items an API write changes (service.store.changes): which write it was...
CHANGE_ATTRIBUTE = "changeId"
# ... and the id of the request that made it, for the stream consumer's log lines. Short: it
# is on every item an admin has written, and an item's size is what each write pays for.
REQUEST_ATTRIBUTE = "_rid"
# Not data: two items that differ only in these say the same thing.
BOOKKEEPING = frozenset({ATTRIBUTE, CHANGE_ATTRIBUTE, REQUEST_ATTRIBUTE})
# Global tables version 2017.11.29 adds these to replicated items (version 2019.11.21 none).
REPLICATION_PREFIX = "aws:rep:"

CURRENT = 2
PREVIOUS = 1
ALL = (1, 2)

Item = dict[str, Any]


class TooOld(ValueError):
    """An item older than the previous version: an upgrade was skipped (docs/table.md)."""


def _v1_to_v2(item: Item) -> Item:
    # Version 2 changed the encoding of long text, which `packing` reads by type, and added
    # the version attribute itself: nothing to move.
    return item


# _STEPS[v] reads an item of version v as version v + 1.
_STEPS: dict[int, Callable[[Item], Item]] = {1: _v1_to_v2}


def version_of(item: Mapping[str, Any]) -> int:
    value = item.get(ATTRIBUTE)
    if isinstance(value, Mapping) and "N" in value:
        return int(value["N"])
    return 1


def upgraded(item: Mapping[str, Any]) -> Item:
    """`item` (typed attributes) as the current version reads it."""
    version = version_of(item)
    current = dict(item)
    if version >= CURRENT:
        return current
    if version < PREVIOUS:
        raise TooOld(f"an item of schema version {version}; this release reads {PREVIOUS}+")
    for step in range(version, CURRENT):
        current = _STEPS[step](current)
    return current


def stamp(version: int) -> dict[str, int]:
    return {ATTRIBUTE: version}
