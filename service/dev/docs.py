"""The generated references in docs/: configuration.md from `Settings`, metrics.md from the
metric definitions.

`python -m service.dev.docs` (`make docs`) rewrites both; `--check` exits 1 while either
differs from what the code says now, and so does tests/unit/test_docs.py.
"""

from __future__ import annotations

import argparse
import sys
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from metrics.registry import Metrics
from service.config import Settings

DOCS = Path(__file__).resolve().parents[2] / "docs"
REGENERATE = "make docs (python -m service.dev.docs)"
NO_DESCRIPTION = "(no description yet)"
HIDDEN = "(secret)"

_BOUNDS = (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="))


@dataclass(frozen=True, slots=True)
class Setting:
    variable: str
    type: str
    default: str
    description: str


@dataclass(frozen=True, slots=True)
class Block:
    """The settings of one level: the top level (`name` None) or one nested block."""

    name: str | None
    settings: tuple[Setting, ...]


def setting_blocks(model: type[BaseSettings]) -> list[Block]:
    """Every field of `model` as the environment sets it, nested blocks after the top level."""
    prefix = model.model_config.get("env_prefix", "").upper()
    delimiter = model.model_config.get("env_nested_delimiter")
    top: list[Setting] = []
    blocks: list[Block] = []
    for name, field in model.model_fields.items():
        nested = _nested_model(field.annotation)
        if nested is None:
            top.append(_setting(prefix + _env_name(name, field), field))
            continue
        if not delimiter:
            # Without it pydantic-settings reads the block as one JSON variable: the
            # per-field names this page would print could not be set.
            raise ValueError(f"{name} is a nested block but env_nested_delimiter is not set")
        block_prefix = prefix + _env_name(name, field) + delimiter
        blocks.append(
            Block(
                name,
                tuple(
                    _setting(block_prefix + _env_name(sub, info), info)
                    for sub, info in nested.model_fields.items()
                ),
            )
        )
    return [Block(None, tuple(top)), *blocks]


def configuration(model: type[BaseSettings] = Settings) -> str:
    """docs/configuration.md."""
    prefix = model.model_config.get("env_prefix", "").upper()
    blocks = setting_blocks(model)
    nested = ""
    if len(blocks) > 1:
        delimiter = model.model_config.get("env_nested_delimiter")
        nested = f" A field of a nested block is `{prefix}<BLOCK>{delimiter}<FIELD>`."
    lines = [
        "# Configuration",
        "",
        f"<!-- Generated from service/config.py by {REGENERATE}. Do not edit. -->",
        "",
        "Every setting is an environment variable, read once into the frozen `Settings`",
        "(`service/config.py`) and passed down; nothing else reads the environment.",
        f"A field is `{prefix}<FIELD>`.{nested} Values outside the bounds in the type",
        f"column are refused at start-up. Secrets show {HIDDEN} instead of their default.",
    ]
    for block in blocks:
        lines += ["", "## Top level" if block.name is None else f"## The `{block.name}` block"]
        lines += [
            "",
            "| variable | type | default | description |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| `{s.variable}` | {_cell(s.type)} | {_cell(s.default)} | {_cell(s.description)} |"
            for s in block.settings
        ]
    return "\n".join(lines) + "\n"


def _nested_model(annotation: object) -> type[BaseModel] | None:
    for candidate in (annotation, *_union_members(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _union_members(annotation: object) -> tuple[object, ...]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return ()


def _env_name(name: str, field: FieldInfo) -> str:
    # An alias replaces the field's name in the environment (pydantic-settings).
    alias = field.validation_alias if isinstance(field.validation_alias, str) else field.alias
    return (alias or name).upper()


def _setting(variable: str, field: FieldInfo) -> Setting:
    return Setting(
        variable=variable,
        type=_type(field),
        default=_default(field),
        description=" ".join((field.description or NO_DESCRIPTION).split()),
    )


def _type(field: FieldInfo) -> str:
    bounds = [
        f"{symbol} {value}"
        for metadata in field.metadata
        for attribute, symbol in _BOUNDS
        if (value := getattr(metadata, attribute, None)) is not None
    ]
    text = _annotation(field.annotation)
    return f"{text}, {', '.join(bounds)}" if bounds else text


def _annotation(annotation: object) -> str:
    members = _union_members(annotation)
    if members:
        named = [_annotation(m) for m in members if m is not type(None)]
        unset = " or unset" if type(None) in members else ""
        return " or ".join(named) + unset
    if typing.get_origin(annotation) is typing.Literal:
        return "one of " + ", ".join(f"`{value}`" for value in typing.get_args(annotation))
    if typing.get_origin(annotation) in (tuple, list, frozenset, set):
        return "list of " + _annotation(typing.get_args(annotation)[0])
    if annotation is SecretStr:
        return "secret str"
    return getattr(annotation, "__name__", str(annotation))


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, SecretStr):
        return HIDDEN
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, tuple | list | frozenset | set):
        return ", ".join(f"`{item}`" for item in value) if value else "empty"
    if value == "":
        return "empty"
    return f"`{value}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


@dataclass(frozen=True, slots=True)
class Family:
    """One metric family as it is exposed."""

    name: str
    type: str
    help: str
    labels: tuple[str, ...]
    # The label values a fresh registry already exposes (counters of known values start at 0).
    initial: dict[str, tuple[str, ...]]
    buckets: tuple[float, ...]


def metric_families() -> list[Family]:
    """Every family `Metrics` defines, in registration order, on a registry of its own."""
    registry = CollectorRegistry()
    Metrics(registry)
    # prometheus_client has no public view of a metric's label names or bucket edges before a
    # series exists, so they are read off the wrappers registered on this private registry.
    wrappers = [c for c in registry._collector_to_names if isinstance(c, MetricWrapperBase)]
    return [_family(wrapper) for wrapper in wrappers]


def _family(wrapper: MetricWrapperBase) -> Family:
    (described,) = wrapper.describe()
    name = described.name + ("_total" if described.type == "counter" else "")
    kind = described.type
    if isinstance(wrapper, Gauge) and wrapper._multiprocess_mode != "all":
        kind = f"gauge ({wrapper._multiprocess_mode})"
    values: dict[str, set[str]] = {}
    for metric in wrapper.collect():
        for sample in metric.samples:
            for label, value in sample.labels.items():
                if label != "le":
                    values.setdefault(label, set()).add(value)
    buckets = tuple(wrapper._upper_bounds[:-1]) if isinstance(wrapper, Histogram) else ()
    return Family(
        name=name,
        type=kind,
        help=described.documentation,
        labels=tuple(wrapper._labelnames),
        initial={label: tuple(sorted(found)) for label, found in values.items()},
        buckets=buckets,
    )


def metrics() -> str:
    """docs/metrics.md."""
    lines = [
        "# Metrics",
        "",
        f"<!-- Generated from metrics/ by {REGENERATE}. Do not edit. -->",
        "",
        "Every family `metrics.registry.Metrics` defines, as `GET /metrics` exposes it (text",
        "format). Labels take values from bounded sets; the values listed are the series a",
        "fresh process already exposes at 0, and any value outside a label's set is recorded",
        "as `other`. Gauges marked `livesum` or `livemax` are summed or maxed over the live",
        "workers of a `serve --workers N` process. How they are recorded, the SLOs in",
        "PromQL, the recording rules and the alerts: [monitoring.md](monitoring.md).",
    ]
    subsystems: dict[str, list[Family]] = {}
    for family in metric_families():
        subsystems.setdefault(family.name.split("_")[1], []).append(family)
    for subsystem, families in subsystems.items():
        lines += ["", f"## {subsystem}", "", "| metric | type | labels | help |"]
        lines.append("|---|---|---|---|")
        lines += [
            f"| `{f.name}` | {f.type} | {_cell(_labels(f))} | {_cell(f.help)} |" for f in families
        ]
        histograms = [f for f in families if f.buckets]
        if histograms:
            lines.append("")
            lines += [
                f"- `{f.name}` bucket edges (s): {', '.join(f'{edge:g}' for edge in f.buckets)}"
                for f in histograms
            ]
    return "\n".join(lines) + "\n"


def _labels(family: Family) -> str:
    if not family.labels:
        return "–"
    return ", ".join(
        f"{label} ({', '.join(f'`{v}`' for v in family.initial[label])})"
        if label in family.initial
        else label
        for label in family.labels
    )


GENERATED: dict[str, Callable[[], str]] = {
    "configuration.md": configuration,
    "metrics.md": metrics,
}


def stale(docs: Path = DOCS) -> Iterator[Path]:
    """The generated files whose committed text differs from what the code makes now."""
    for name, render in GENERATED.items():
        path = docs / name
        if not path.exists() or path.read_text(encoding="utf-8") != render():
            yield path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service.dev.docs", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if a file is stale")
    parser.add_argument("--docs", type=Path, default=DOCS, help="the docs directory")
    args = parser.parse_args(argv)
    if args.check:
        outdated = list(stale(args.docs))
        for path in outdated:
            print(f"{path} is stale: run {REGENERATE}", file=sys.stderr)
        return 1 if outdated else 0
    for name, render in GENERATED.items():
        (args.docs / name).write_text(render(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
