"""Metric names in a PromQL expression, and what recording-rule names stand for.

Not a PromQL parser, but careful about what is not a metric: string literals (label values
such as "GET|HEAD"), label matchers and label lists (`{...}`, `by (...)`, `on (...)`, ...),
durations (`[5m]`, `offset 1h`), numbers, function names (an identifier before `(`), keywords
and Grafana's `$variables`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_LABEL_LIST = re.compile(
    r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", re.IGNORECASE
)
_VARIABLE = re.compile(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?")
_OFFSET = re.compile(r"\boffset\s+-?[0-9a-z]+", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![A-Za-z0-9_:])(?:0x[0-9a-f]+|\d+(?:\.\d*)?(?:e[+-]?\d+)?|\.\d+)")
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
     "group_left", "group_right", "inf", "nan", "atan2"}
)  # fmt: skip


def metric_names(expr: str) -> set[str]:
    if "__name__" in expr:
        raise ValueError(f"a metric chosen by a __name__ matcher escapes this check: {expr}")
    text = _STRING.sub(" ", expr)
    text = _VARIABLE.sub("5m", text)
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _LABEL_LIST.sub(" ", text)
    text = _OFFSET.sub(" ", text)
    text = _NUMBER.sub(" ", text)
    names: set[str] = set()
    for match in _IDENT.finditer(text):
        name = match.group(0)
        following = text[match.end() :].lstrip()
        if following.startswith("(") or name.lower() in _KEYWORDS:
            continue  # a function or an aggregation, never a metric
        names.add(name)
    return names


def resolve(names: Iterable[str], recorded: Mapping[str, str]) -> set[str]:
    """The exported metric names behind `names`: a recording rule's name stands for the names
    in its expression (recursively). A `level:metric:ops` name with no rule is an error."""
    found: set[str] = set()
    pending = list(names)
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in recorded:
            pending.extend(metric_names(recorded[name]))
        elif ":" in name:
            raise KeyError(f"{name} looks like a recording rule but none records it")
        else:
            found.add(name)
    return found
