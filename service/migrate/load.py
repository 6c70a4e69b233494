"""Write the items into the table with BatchWriteItem, tagged with the migration batch.

- Chunks of at most 25 requests (DynamoDB's limit; some emulators accept more, DynamoDB
  refuses the whole call) through the store's own `batch_write`, which resends the
  UnprocessedItems of each chunk with the Table's exponential backoff and full jitter until
  they are written or the deadline passes, and reports every unprocessed remainder to the
  observer.
- Every item gets `migrationBatch` = the batch id: rollback deletes by it, verify checks it.
- Idempotent: a PutItem of the same item again changes nothing, so a re-run, or a resume that
  rewrites the chunks in flight at a kill, leaves the table as one clean run would.
- Resumable: `checkpoint.json` is advanced at most every `CHECKPOINT_EVERY_S` over the
  chunks written so far, and once more when the load ends or fails (see checkpoint.py).
- At most `concurrency` chunks are in flight, which bounds memory and the write rate offered
  to the table.
- A chunk DynamoDB refuses, or does not take within the deadline, stops the load with one
  line (`TargetError`) naming the chunk's place in the items file and any item in it past the
  size limit; the checkpoint stays before it. An items file that ends before the manifest's
  count is refused (`WorkError`).
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from service.errors import ItemTooLarge, StoreError, StoreUnavailable
from service.migrate.checkpoint import Checkpoint, resume_point, save_checkpoint
from service.migrate.errors import TargetError, WorkError
from service.migrate.progress import Progress
from service.migrate.workdir import Manifest, WorkDir, read_items
from service.store.batch import WRITE_CHUNK, batch_write, put_request
from service.store.codec import ITEM_LIMIT_BYTES, Item, item_size
from service.store.keys import BATCH_ATTRIBUTE, PK, SK
from service.store.table import Table

DEFAULT_CONCURRENCY = 8
CHECKPOINT_EVERY_S = 0.5


@dataclass
class LoadObserver:
    """A StoreObserver that counts what the load's summary reports."""

    calls: int = 0
    errors: int = 0
    retries: int = 0
    throttles: int = 0
    unprocessed_items: int = 0
    unprocessed_rounds: int = 0
    write_units: float = 0.0
    codes: dict[str, int] = field(default_factory=dict)

    def call_finished(
        self,
        operation: str,
        seconds: float,
        outcome: str,
        error_code: str | None,
        *,
        trace_id: str | None = None,
    ) -> None:
        self.calls += 1
        if outcome != "ok":
            self.errors += 1
            self.codes[error_code or outcome] = self.codes.get(error_code or outcome, 0) + 1

    def retried(self, operation: str, error_code: str) -> None:
        self.retries += 1

    def throttled(self, operation: str) -> None:
        self.throttles += 1

    def consumed(
        self, table: str, index: str | None, read_units: float, write_units: float
    ) -> None:
        self.write_units += write_units

    def unprocessed(self, operation: str, count: int) -> None:
        self.unprocessed_rounds += 1
        self.unprocessed_items += count


@dataclass(frozen=True, slots=True)
class LoadResult:
    written: int
    skipped: int
    total: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.written / self.seconds if self.seconds > 0 else 0.0


def tagged(item: Item, batch: str) -> Item:
    return {**item, BATCH_ATTRIBUTE: {"S": batch}}


def _chunks(items: Iterator[Item], batch: str) -> Iterator[list[Item]]:
    while chunk := [tagged(i, batch) for i in itertools.islice(items, WRITE_CHUNK)]:
        yield chunk


async def _write(table: Table, chunk: list[Item], first: int) -> None:
    """One chunk; `first` is its first item's index in the items file."""
    try:
        await batch_write(table, [put_request(item) for item in chunk])
    except (StoreError, ItemTooLarge) as exc:
        raise TargetError(_refusal(exc, chunk, first)) from exc


def _refusal(exc: StoreError | ItemTooLarge, chunk: list[Item], first: int) -> str:
    lines = f"items {first + 1:,}-{first + len(chunk):,} of items.jsonl"
    if isinstance(exc, StoreUnavailable):
        return f"DynamoDB did not take {lines} ({exc}); the same command resumes before them"
    too_big = [
        f"{item[PK]['S']} / {item[SK]['S']} is {size:,} bytes"
        for item in chunk
        if (size := item_size(item)) > ITEM_LIMIT_BYTES
    ]
    told = (
        f"; past the {ITEM_LIMIT_BYTES:,}-byte item limit: {', '.join(too_big)}" if too_big else ""
    )
    # ItemTooLarge: the table's own check refused the chunk before DynamoDB saw it.
    who = "the table's size check" if isinstance(exc, ItemTooLarge) else "DynamoDB"
    return f"{who} refused {lines} ({exc}){told}; fix them and transform again"


async def load(
    table: Table,
    work: WorkDir,
    manifest: Manifest,
    *,
    batch: str,
    concurrency: int = DEFAULT_CONCURRENCY,
    resume: bool = True,
    progress: bool = True,
) -> LoadResult:
    loop = asyncio.get_running_loop()
    skip = (
        resume_point(work.checkpoint, batch=batch, digest=manifest.digest, total=manifest.items)
        if resume
        else 0
    )
    done = skip
    bar = Progress("load", manifest.items, start=skip) if progress else None
    started = loop.time()
    # A sliding window: up to `concurrency` chunks in flight, in file order. The checkpoint
    # advances over the oldest chunks once they are written, never past one still in flight.
    in_flight: deque[tuple[asyncio.Task[None], int]] = deque()
    last_saved = loop.time()
    try:
        for chunk in _chunks(read_items(work, skip=skip), batch):
            first = done + sum(size for _, size in in_flight)
            in_flight.append((asyncio.create_task(_write(table, chunk, first)), len(chunk)))
            if len(in_flight) < concurrency:
                continue
            await asyncio.wait([in_flight[0][0]])
            while in_flight and in_flight[0][0].done():
                task, size = in_flight.popleft()
                task.result()  # a chunk that failed ends the load here, checkpoint before it
                done += size
                if bar:
                    bar.advance(size)
            if loop.time() - last_saved >= CHECKPOINT_EVERY_S:
                save_checkpoint(
                    work.checkpoint, Checkpoint(batch, manifest.digest, done, manifest.items)
                )
                last_saved = loop.time()
        while in_flight:
            task, size = in_flight.popleft()
            await task
            done += size
            if bar:
                bar.advance(size)
    finally:
        for task, _ in in_flight:
            task.cancel()
        await asyncio.gather(*(task for task, _ in in_flight), return_exceptions=True)
        save_checkpoint(work.checkpoint, Checkpoint(batch, manifest.digest, done, manifest.items))
    if bar:
        bar.close()
    if done != manifest.items:
        raise WorkError(
            f"{work.items} ended after {done:,} items, {work.manifest.name} says "
            f"{manifest.items:,}: run transform again"
        )
    return LoadResult(done - skip, skip, manifest.items, loop.time() - started)
