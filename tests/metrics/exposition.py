"""Reading metrics the way a scraper sees them: the /metrics text, and a worker's own files."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families


class Scrape:
    """One /metrics body, parsed."""

    def __init__(self, text: str) -> None:
        self.samples = [
            (sample.name, sample.labels, sample.value)
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        ]

    def total(self, name: str, **labels: str) -> float:
        """The sum of every `name` sample whose labels include `labels` (0 when none)."""
        return sum(
            value
            for sample, found, value in self.samples
            if sample == name and labels.items() <= found.items()
        )

    def label_values(self, name: str, label: str) -> set[str]:
        return {found[label] for sample, found, _ in self.samples if sample == name}


def per_worker(directory: Path, kind: str, name: str, **labels: str) -> dict[int, float]:
    """What each worker pid wrote to its own `{kind}_{pid}.db` file in the multiprocess dir.

    `kind` is the file's prefix: "counter", "histogram", "gauge_livesum", ...
    """
    found: dict[int, float] = {}
    for path in sorted(directory.glob(f"{kind}_*.db")):
        pid = int(path.stem.rsplit("_", 1)[1])
        # prometheus_client leaves its multiprocess module unannotated.
        families = MultiProcessCollector.merge([str(path)])  # type: ignore[no-untyped-call]
        for family in families:
            for sample in family.samples:
                if sample.name == name and labels.items() <= sample.labels.items():
                    found[pid] = found.get(pid, 0.0) + sample.value
    return found
