"""The Makefile's shape: `make help` is built from `##` comments, so every target needs one, and
every .PHONY name must be a target with a recipe (a bare name in .PHONY does nothing)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support import infra

MAKEFILE = Path(__file__).resolve().parents[2] / "Makefile"
RULE = re.compile(r"^([A-Za-z][A-Za-z0-9_-]*):(?!=)([^#\n]*)(?:##[ \t]*(.*))?$")


def rules(text: str) -> dict[str, tuple[str | None, list[str]]]:
    """Each explicit target: its `##` description and its recipe lines."""
    found: dict[str, tuple[str | None, list[str]]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("\t") and current is not None:
            current.append(line)
            continue
        current = None
        match = RULE.match(line)
        if match:
            current = []
            found[match.group(1)] = (match.group(3), current)
    return found


def phony(text: str) -> list[str]:
    names: list[str] = []
    for line in text.splitlines():
        if line.startswith(".PHONY:"):
            names += line.removeprefix(".PHONY:").split()
    return names


def test_every_phony_target_has_a_recipe_and_a_description() -> None:
    text = MAKEFILE.read_text()
    found = rules(text)
    assert {"run", "test", "test-fast", "help"} <= set(phony(text))
    for name in phony(text):
        assert name in found, f".PHONY names {name!r}, which no rule defines"
        description, recipe = found[name]
        assert recipe, f"{name!r} has no recipe"
        assert description, f"{name!r} has no ## description for `make help`"


def test_every_described_target_is_phony() -> None:
    text = MAKEFILE.read_text()
    described = {name for name, (description, _) in rules(text).items() if description}
    assert described == set(phony(text))


def test_test_fast_leaves_out_every_infrastructure_marker() -> None:
    match = re.search(r"^INFRASTRUCTURE := (.*)$", MAKEFILE.read_text(), re.M)
    assert match, "the Makefile names no INFRASTRUCTURE"
    assert match.group(1).split(" or ") == list(infra.KINDS)


def test_the_rule_reader_sees_a_missing_recipe_and_description() -> None:
    found = rules("a:  ## first\n\techo a\nb: a\nc: a  ## third\n\nd := 1\n")
    assert found == {"a": ("first", ["\techo a"]), "b": (None, []), "c": ("third", [])}
