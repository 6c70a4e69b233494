"""How far a load got, so that a load killed at any instant resumes instead of starting over.

`done` counts items from the start of the items file that are known to be written: the load
advances it only after every chunk before that point has been acknowledged (chunks run
concurrently, and one may finish before an earlier one). Anything past `done` may or may not
have been written; a resumed load writes it again, which is harmless because every write is a
PutItem of the same item (idempotent). The file is replaced atomically, so a SIGKILL leaves
either the old checkpoint or the new one.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from service.migrate.workdir import write_json


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
    raw = json.loads(path.read_text(encoding="utf-8"))
    return Checkpoint(raw["batch"], raw["digest"], int(raw["done"]), int(raw["total"]))


def save_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    write_json(path, asdict(checkpoint))


def resume_point(path: Path, *, batch: str, digest: str) -> int:
    """Items to skip: the checkpoint's count when it is of this batch and these items, else 0."""
    found = read_checkpoint(path)
    if found is None or found.batch != batch or found.digest != digest:
        return 0
    return found.done
