"""Pieces the repositories share: reads, slug mappings, optimistic-lock guards, SET builders."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from service.errors import Conflict, NotFound, VersionMismatch
from service.models.base import utcnow
from service.store import keys, versions
from service.store.codec import Item, load, to_item
from service.store.cursor import CursorCodec
from service.store.keys import Key, SlugKind
from service.store.rules import DEFAULT_RULES, ItemRules
from service.store.table import CancellationReason, Table
from service.store.txn import ControlFlow, OnFail, Refusal, Transaction

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
STALE_READ_ATTEMPTS = 3


class Repository:
    """What every store holds: the table, the cursor codec, and a clock tests can set."""

    def __init__(
        self,
        table: Table,
        cursors: CursorCodec,
        *,
        clock: Callable[[], datetime] = utcnow,
        rules: ItemRules = DEFAULT_RULES,
    ) -> None:
        self._table = table
        self._cursors = cursors
        self._clock = clock
        self._rules = rules


class StaleRead(ControlFlow):
    """An item changed between our read and our transaction: read again and retry."""


async def get_item(table: Table, key: Key, *, consistent: bool = False) -> Item | None:
    response = await table.call("GetItem", Key=key, ConsistentRead=consistent)
    item: Item | None = response.get("Item")
    return item


async def read(table: Table, model: type[M], key: Key, what: str, *, consistent: bool = False) -> M:
    item = await get_item(table, key, consistent=consistent)
    if item is None:
        raise NotFound(f"{what} not found")
    return load(model, item)


async def resolve_slug(table: Table, kind: SlugKind, slug: str, *, consistent: bool = False) -> str:
    item = await get_item(table, keys.slug(kind, slug), consistent=consistent)
    if item is None:
        raise NotFound(f"{kind.lower()} {slug!r} not found")
    return str(item["targetId"]["S"])


def slug_item(kind: SlugKind, slug: str, target_id: str) -> Item:
    # No attribute of a mapping changed with a version: the current one reads alike everywhere.
    attrs = {"type": "SlugMapping", "targetId": target_id, **versions.stamp(versions.CURRENT)}
    return {**keys.slug(kind, slug), **to_item(attrs)}


def claim_slug(txn: Transaction, kind: SlugKind, slug: str, target_id: str) -> None:
    txn.put(
        slug_item(kind, slug, target_id),
        condition="attribute_not_exists(PK)",
        on_fail=lambda _r: Conflict(f"slug {slug!r} is taken"),
    )


def release_slug(txn: Transaction, kind: SlugKind, slug: str, target_id: str) -> None:
    # Only ever remove a mapping that still points at us; anything else means we read stale.
    txn.delete(
        keys.slug(kind, slug),
        condition="targetId = :target",
        values={":target": target_id},
        on_fail=lambda _r: StaleRead(),
    )


def stored_version(reason: CancellationReason) -> int | None:
    if reason.item is None or "version" not in reason.item:
        return None
    return int(reason.item["version"]["N"])


def version_guard(what: str, *, stale_is_retry: bool = False) -> OnFail:
    """Map a failed `version = :v` condition: gone -> NotFound, changed -> VersionMismatch.

    With `stale_is_retry` the version was one we read ourselves (not the caller's), so a change
    means "read again" rather than an error for the caller.
    """

    def on_fail(reason: CancellationReason) -> Refusal:
        if reason.item is None:
            return NotFound(f"{what} not found")
        if stale_is_retry:
            return StaleRead()
        return VersionMismatch(f"{what} was changed", current_version=stored_version(reason))

    return on_fail


def set_expression(
    changes: Mapping[str, object], *, remove: tuple[str, ...] = ()
) -> tuple[str, dict[str, str], dict[str, object]]:
    """`SET #a0 = :v0, ...  REMOVE #r0` with every attribute name aliased (many are reserved)."""
    names: dict[str, str] = {}
    values: dict[str, object] = {}
    sets: list[str] = []
    for index, (attr, value) in enumerate(changes.items()):
        names[f"#a{index}"] = attr
        values[f":v{index}"] = value
        sets.append(f"#a{index} = :v{index}")
    expression = "SET " + ", ".join(sets)
    if remove:
        for index, attr in enumerate(remove):
            names[f"#r{index}"] = attr
        expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(remove)))
    return expression, names, values


async def retry_stale(attempt: Callable[[], Awaitable[T]], what: str) -> T:
    for _ in range(STALE_READ_ATTEMPTS):
        try:
            return await attempt()
        except StaleRead:
            continue
    raise Conflict(f"{what} kept changing; try again")


def dumped(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(by_alias=True, exclude_none=True)
