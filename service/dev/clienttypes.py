"""TypeScript types for a frontend, generated from the API's OpenAPI document.

    python -m service.dev.clienttypes        (make client-types)

Writes the document the service serves at /openapi.json to clients/web/openapi.json, turns it
into clients/web/openapi.d.ts with openapi-typescript, and type-checks the example client
against it with `tsc --strict`. Both tools are pinned in clients/web/package.json and its
lockfile and installed there by `npm ci` (node and npm are needed; nothing is installed
globally). Exit code 1 when the example no longer compiles against the API's types.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from service.api.openapi import render
from service.api.routes import ROUTES

CLIENT_DIR = Path(__file__).resolve().parents[2] / "clients" / "web"
NPM_TIMEOUT_S = 600
TOOL_TIMEOUT_S = 300


class ClientToolsError(RuntimeError):
    """node, npm or one of the pinned tools could not run."""


def document() -> bytes:
    """The OpenAPI document, exactly as /openapi.json serves it."""
    return render(ROUTES)


def install(client_dir: Path = CLIENT_DIR) -> None:
    """`npm ci` in `client_dir` unless its node_modules is already there."""
    if (client_dir / "node_modules" / ".package-lock.json").exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise ClientToolsError("npm is not installed (Debian: apt-get install nodejs npm)")
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=client_dir,
        capture_output=True,
        text=True,
        timeout=NPM_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        raise ClientToolsError(f"npm ci failed ({done.returncode}): {done.stderr[-2000:]}")


def _tool(client_dir: Path, name: str) -> str:
    path = client_dir / "node_modules" / ".bin" / name
    if not path.exists():
        raise ClientToolsError(f"{path} is missing: run `npm ci` in {client_dir}")
    return str(path)


def generate(spec: Path, out: Path, *, client_dir: Path = CLIENT_DIR) -> None:
    """openapi-typescript: the types of the document at `spec`, written to `out`."""
    done = subprocess.run(
        [_tool(client_dir, "openapi-typescript"), str(spec), "--output", str(out)],
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        raise ClientToolsError(f"openapi-typescript failed: {done.stdout}{done.stderr}")


def typecheck(project: Path, *, client_dir: Path = CLIENT_DIR) -> subprocess.CompletedProcess[str]:
    """`tsc --strict` over the project whose tsconfig.json is in `project` (no output files)."""
    return subprocess.run(
        [_tool(client_dir, "tsc"), "--project", str(project / "tsconfig.json"), "--strict"],
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_S,
        check=False,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="service.dev.clienttypes", description=__doc__)
    parser.parse_args(argv)
    install()
    spec = CLIENT_DIR / "openapi.json"
    spec.write_bytes(document())
    generate(spec, CLIENT_DIR / "openapi.d.ts")
    checked = typecheck(CLIENT_DIR)
    print(checked.stdout, end="")
    print(f"{CLIENT_DIR / 'openapi.d.ts'}: written; tsc --strict: exit code {checked.returncode}")
    return 0 if checked.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
