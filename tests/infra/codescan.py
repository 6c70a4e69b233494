"""The DynamoDB operations the code calls, read from its syntax tree.

Starting from a module (`service.app`), follow its imports inside our packages and collect:
- every `.call("Operation", ...)` on the Table wrapper (the operation must be a literal: a
  computed one could hide a call from this scan, so it is an error);
- every method called on an aiobotocore client (`client.<method>(...)`, `.client.<method>`),
  which names a DynamoDB API (`describe_table` -> DescribeTable);
- the item actions a TransactWriteItems can carry (`self._add("Put", ...)` in the builder);
- every `._call("Operation", ...)` of the stream consumer (DynamoDB Streams operations, which
  IAM names under `dynamodb:` too; `stream_operations` keeps them apart, since they are granted
  on the stream's ARN).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

from botocore import xform_name
from botocore.session import get_session

ROOT = Path(__file__).resolve().parents[2]
OUR_PACKAGES = ("service", "cache", "metrics")


class ScanError(AssertionError):
    """The code calls DynamoDB in a way the scan cannot read."""


@dataclass
class Calls:
    operations: set[str] = field(default_factory=set)
    transaction_actions: set[str] = field(default_factory=set)
    stream_operations: set[str] = field(default_factory=set)
    modules: set[str] = field(default_factory=set)


def _module_file(name: str) -> Path | None:
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(tree: ast.Module, module: str, *, is_package: bool) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = module.split(".")
                keep = len(parts) - node.level + (1 if is_package else 0)
                base = ".".join(parts[:keep] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.add(base)
            # `from service.store import keys` imports a module too.
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] in OUR_PACKAGES and _module_file(name)}


def reachable(start: str, *, leave_out: frozenset[str] = frozenset()) -> dict[str, ast.Module]:
    """Every module of ours that `start` imports, directly or not, with its syntax tree;
    not following the modules in `leave_out`."""
    trees: dict[str, ast.Module] = {}
    pending = [start]
    while pending:
        name = pending.pop()
        if name in trees or name in leave_out:
            continue
        path = _module_file(name)
        if path is None:
            raise ScanError(f"module {name} not found under {ROOT}")
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        trees[name] = tree
        pending.extend(_imports(tree, name, is_package=path.name == "__init__.py"))
    return trees


def _client_methods() -> dict[str, str]:
    model = get_session().get_service_model("dynamodb")
    return {xform_name(op): op for op in model.operation_names}


def _is_client(node: ast.expr) -> bool:
    # `client.describe_table(...)`, `self.client.query(...)`, `table.client.get_item(...)`
    if isinstance(node, ast.Name):
        return node.id == "client"
    return isinstance(node, ast.Attribute) and node.attr == "client"


def dynamodb_calls(start: str, *, leave_out: frozenset[str] = frozenset()) -> Calls:
    """What the modules `start` imports call (the whole module counts, used or not)."""
    return calls_in(reachable(start, leave_out=leave_out))


def calls_in(trees: dict[str, ast.Module]) -> Calls:
    methods = _client_methods()
    calls = Calls()
    for module, tree in trees.items():
        calls.modules.add(module)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            attr = node.func.attr
            where = f"{module}:{node.lineno}"
            if attr == "call" and not _is_client(node.func.value):
                first = node.args[0] if node.args else None
                if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                    raise ScanError(f"{where}: .call() with a computed operation")
                calls.operations.add(first.value)
            elif attr == "_add" and module == "service.store.txn":
                first = node.args[0] if node.args else None
                if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                    raise ScanError(f"{where}: a transaction item with a computed action")
                calls.transaction_actions.add(first.value)
            elif attr == "_call" and module.startswith("service.streams"):
                first = node.args[0] if node.args else None
                if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                    raise ScanError(f"{where}: a stream call with a computed operation")
                calls.stream_operations.add(first.value)
            elif _is_client(node.func.value) and attr in methods:
                calls.operations.add(methods[attr])
    return calls


# IAM authorises a transaction's items by the item operations they stand for.
TRANSACTION_ITEM_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
TRANSACT_GET_ACTIONS = {"GetItem"}


def iam_actions(calls: Calls) -> set[str]:
    """The IAM actions `calls` need: one per operation, a transaction's through its items."""
    actions: set[str] = set()
    for operation in calls.operations:
        if operation == "TransactWriteItems":
            for item in calls.transaction_actions:
                if item not in TRANSACTION_ITEM_ACTIONS:
                    raise ScanError(f"transaction item action {item!r} has no IAM mapping")
                actions.add(TRANSACTION_ITEM_ACTIONS[item])
        elif operation == "TransactGetItems":
            actions.update(TRANSACT_GET_ACTIONS)
        else:
            actions.add(operation)
    return {f"dynamodb:{action}" for action in actions}
