"""Remove one migration batch: exactly the items tagged with its id, nothing else.

A Scan finds them (FilterExpression on `migrationBatch`, keys only), and BatchWriteItem
deletes them in chunks of 25 through the store's `batch_write` (UnprocessedItems retried with
backoff). Items the service wrote itself carry no tag, and items of another batch carry
another id, so neither can match. An item the service later replaced with a PutItem has lost
the tag and stays; one it changed with UpdateItem keeps the tag and goes: roll back before
the service starts writing migrated entities.

A dry run makes the same Scan and deletes nothing: it hands each item it would delete to
`on_item` (the CLI prints its type and key) and counts them the same way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from service.migrate.progress import Progress
from service.store import keys
from service.store.batch import batch_write, delete_request
from service.store.codec import Item
from service.store.scan import scan_batch
from service.store.table import Table


def _type(item: Item) -> str:
    return str(item.get("type", {}).get("S", "(no type)"))


def describe(item: Item) -> str:
    return f"{_type(item)} {item[keys.PK]['S']} {item[keys.SK]['S']}"


async def rollback(
    table: Table,
    *,
    batch: str,
    progress: bool = True,
    dry_run: bool = False,
    on_item: Callable[[str], object] | None = None,
) -> Counter[str]:
    """Delete every item tagged `batch` (with `dry_run`, only find them); returns how many of
    each type were (or would be) deleted."""
    deleted: Counter[str] = Counter()
    bar = Progress("rollback", None) if progress else None
    async for page in scan_batch(table, batch=batch):
        if on_item is not None:
            for item in page:
                on_item(describe(item))
        if not dry_run:
            await batch_write(
                table, [delete_request({keys.PK: i[keys.PK], keys.SK: i[keys.SK]}) for i in page]
            )
        deleted.update(_type(i) for i in page)
        if bar:
            bar.advance(len(page))
    if bar:
        bar.close()
    return deleted
