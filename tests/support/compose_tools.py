"""A Compose implementation that validates docker-compose.yml without a Docker engine.

`docker compose` (the CLI plugin) is used when it answers; otherwise Debian's `docker-compose`
(1.29, Python), found on PATH or installed with apt-get. Both implement `config`, which parses,
interpolates and validates the file against the Compose schema and prints the result, with no
engine. The first that works is what the tests run.
"""

from __future__ import annotations

import shutil
import subprocess

from tests.support.debian import ToolsUnavailable, apt_install

APT_PACKAGE = "docker-compose"
_PROBE_TIMEOUT_S = 30


def _works(argv: list[str]) -> bool:
    try:
        probe = subprocess.run(
            [*argv, "version"], capture_output=True, timeout=_PROBE_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def _candidates() -> list[list[str]]:
    found = []
    docker = shutil.which("docker")
    if docker is not None:
        found.append([docker, "compose"])
    legacy = shutil.which("docker-compose")
    if legacy is not None:
        found.append([legacy])
    return found


def find_or_install() -> list[str]:
    """The argv prefix of a working Compose (`docker compose` or `docker-compose`)."""
    for argv in _candidates():
        if _works(argv):
            return argv
    apt_install(APT_PACKAGE)
    for argv in _candidates():
        if _works(argv):
            return argv
    raise ToolsUnavailable(
        f"Debian's {APT_PACKAGE!r} package installed, yet neither `docker compose` nor "
        "`docker-compose` answers `version`"
    )
