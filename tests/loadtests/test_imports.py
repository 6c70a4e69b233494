"""`loadtests/` speaks to the service over HTTP: of our packages it imports `metrics.slo` alone.

The load tests judge the service from outside, as a client would; a module of ours imported
here would let them measure something a client cannot reach. The files are parsed, not
imported, so a forbidden import inside a function or behind a flag is found too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LOADTESTS = Path(__file__).resolve().parents[2] / "loadtests"
OURS = ("service", "cache", "metrics")
ALLOWED = {"metrics.slo"}


def _allowed(module: str) -> bool:
    return any(module == ok or module.startswith(f"{ok}.") for ok in ALLOWED)


def _called(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _imported(node: ast.AST) -> list[str]:
    """The absolute modules a statement imports (an importlib call's too, when constant)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        if any(ok.startswith(f"{node.module}.") for ok in ALLOWED):
            # `from metrics import slo`: each name may be a module of its own; judge each.
            return [f"{node.module}.{alias.name}" for alias in node.names]
        return [node.module]
    if (
        isinstance(node, ast.Call)
        and _called(node) in ("import_module", "__import__")
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ):
        return [node.args[0].value]
    return []


def forbidden_imports(source: str, filename: str = "<source>") -> list[str]:
    """`file:line: module` for every module of ours but the allowed ones that `source` imports."""
    return [
        f"{filename}:{getattr(node, 'lineno', 0)}: {module}"
        for node in ast.walk(ast.parse(source, filename))
        for module in _imported(node)
        if module.split(".")[0] in OURS and not _allowed(module)
    ]


def test_loadtests_import_no_module_of_ours_but_the_slo() -> None:
    files = sorted(LOADTESTS.rglob("*.py"))
    assert len(files) > 5, f"no load test modules found under {LOADTESTS}"
    found = [hit for path in files for hit in forbidden_imports(path.read_text(), path.name)]
    assert found == [], "loadtests/ must speak HTTP, not import:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "source",
    [
        "import service.config",
        "from service.dev.devserver import free_port",
        "from cache.entry import Entry",
        "import metrics.registry",
        "from metrics import registry",
        "from metrics import slo, registry",
        "import metrics",
        "from metrics import *",
        "def later():\n    from service import cli",
        "import importlib\nimportlib.import_module('service.dev.devpool')",
        "__import__('cache')",
    ],
)
def test_the_check_finds_an_import_of_ours(source: str) -> None:
    assert forbidden_imports(source) != []


@pytest.mark.parametrize(
    "source",
    [
        "from metrics.slo import OBJECTIVES",
        "from metrics import slo",
        "import metrics.slo",
        "from loadtests import fixture",
        "from . import fixture",
        "import servicelib",
        "import aiohttp",
    ],
)
def test_the_check_lets_the_slo_and_the_rest_through(source: str) -> None:
    assert forbidden_imports(source) == []
