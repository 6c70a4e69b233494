"""service.transition is reached through its one module, and only by the runtime's context,
the Lambda and the CLI: deleting the package and those three calls removes the migration's
run-time part. (The layers themselves are import-linter's to check.)"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "service.transition"
CALLERS = {
    "service.runtime.lifecycle",
    "service.aws.registration",
    "service.cli",
    # Dev tooling: the reconcile benchmark drives the reconciler in process, as the CLI does.
    "service.dev.bench.reconcile",
}


def _is_submodule(name: str) -> bool:
    inside = ROOT / "service" / "transition"
    return (inside / f"{name}.py").exists() or (inside / name).is_dir()


def _reached(tree: ast.Module) -> Iterator[str]:
    """Every module of service.transition that `tree` imports (the package itself included)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == PACKAGE or alias.name.startswith(f"{PACKAGE}."):
                    yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "service" and any(a.name == "transition" for a in node.names):
                yield PACKAGE
            elif node.module == PACKAGE:
                for alias in node.names:
                    yield f"{PACKAGE}.{alias.name}" if _is_submodule(alias.name) else PACKAGE
            elif node.module.startswith(f"{PACKAGE}."):
                yield node.module


def _reached_from_outside() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / "service").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[:2] == ("service", "transition"):
            continue
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        reached = set(_reached(ast.parse(path.read_text(encoding="utf-8"), str(path))))
        if reached:
            found[name] = reached
    return found


def test_only_the_three_callers_import_service_transition() -> None:
    found = _reached_from_outside()
    assert set(found) <= CALLERS, sorted(set(found) - CALLERS)
    assert {"service.runtime.lifecycle", "service.aws.registration", "service.cli"} <= set(found)


def test_callers_import_the_package_never_its_modules() -> None:
    deeper = {
        caller: sorted(reached - {PACKAGE})
        for caller, reached in _reached_from_outside().items()
        if reached - {PACKAGE}
    }
    assert not deeper, f"import these through {PACKAGE}: {deeper}"
