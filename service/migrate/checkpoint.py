"""How far a load got, so that a load killed at any instant resumes instead of starting over.

`done` counts items from the start of the items file that are known to be written: the load
advances it only after every chunk before that point has been acknowledged (chunks run
concurrently, and one may finish before an earlier one). Anything past `done` may or may not
have been written; a resumed load writes it again, which is harmless because every write is a
PutItem of the same item (idempotent). The file is replaced atomically, so a SIGKILL leaves
either the old checkpoint or the new one.

A checkpoint of another batch or of other items (another digest) is not this load's and is
ignored: the load starts from the beginning. One of this batch and these items that cannot be
true (more done than there are items, another total) is refused: it was edited or corrupted,
and resuming from it could skip items that were never written.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from service.migrate.errors import WorkError
from service.migrate.workdir import read_json, write_json

_FIX = "remove it, or pass --restart to load from the beginning"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    batch: str
    digest: str
    done: int
    total: int

    @property
    def finished(self) -> bool:
        return self.done >= self.total


def read_checkpoint(path: Path) -> Checkpoint | None:
    if not path.exists():
        return None
    raw = read_json(path, missing=_FIX)
    try:
        found = Checkpoint(raw["batch"], raw["digest"], raw["done"], raw["total"])
    except (KeyError, TypeError) as exc:
        raise WorkError(f"{path} is not a load's checkpoint ({exc!r}): {_FIX}") from exc
    if not (
        isinstance(found.batch, str)
        and isinstance(found.digest, str)
        and type(found.done) is int
        and type(found.total) is int
    ):
        raise WorkError(f"{path} is not a load's checkpoint: {_FIX}")
    return found


def save_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    write_json(path, asdict(checkpoint))


def resume_point(path: Path, *, batch: str, digest: str, total: int) -> int:
    """Items to skip: the checkpoint's count when it is of this batch and these items, else 0."""
    found = read_checkpoint(path)
    if found is None or found.batch != batch or found.digest != digest:
        return 0
    if found.total != total or not 0 <= found.done <= total:
        raise WorkError(
            f"{path} says {found.done:,} of {found.total:,} items of batch {batch} are written, "
            f"but the items file holds {total:,}: it cannot be resumed from; {_FIX}"
        )
    return found.done
