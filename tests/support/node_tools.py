"""node and npm for the typed-client tests: Debian's `nodejs` and `npm`, installed with apt-get
when missing (`tests/support/debian.py`); the pinned tools themselves (openapi-typescript,
typescript) come from clients/web's lockfile through `npm ci` (service.dev.clienttypes)."""

from __future__ import annotations

import shutil
from pathlib import Path

from service.dev import clienttypes
from tests.support.debian import ToolsUnavailable, apt_install

PACKAGES = ("nodejs", "npm")


def find_or_install() -> Path:
    """clients/web with its node_modules installed, installing node and npm if missing."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        for package in PACKAGES:
            apt_install(package)
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise ToolsUnavailable(f"Debian's {' and '.join(PACKAGES)} installed, yet not on PATH")
    try:
        clienttypes.install()
    except clienttypes.ClientToolsError as exc:
        raise ToolsUnavailable(str(exc)) from exc
    return clienttypes.CLIENT_DIR
