"""Debian packages the tests need (Prometheus, docker-compose): installed with apt-get when
missing (the machines here run as root and reach Debian's archive). Every wait is bounded."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

APT_TIMEOUT_S = 600
# invoke-rc.d asks this script whether a package may start its service; 101 means no.
POLICY_RC_D = Path("/usr/sbin/policy-rc.d")


class ToolsUnavailable(RuntimeError):
    """A tool could not be found or installed."""


def _apt(*args: str) -> subprocess.CompletedProcess[str]:
    argv = ["apt-get", *args]
    try:
        return subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=APT_TIMEOUT_S,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolsUnavailable(f"`{' '.join(argv)}` could not run: {exc}") from exc


@contextmanager
def _services_stay_stopped() -> Iterator[None]:
    # Debian's prometheus package starts a daemon on install, listening on every interface at
    # :9090, unless policy-rc.d forbids it (Docker images ship one; a fresh VM does not). The
    # tests start their own servers on loopback: forbid it for the install, as images do.
    if POLICY_RC_D.exists():
        yield
        return
    try:
        POLICY_RC_D.write_text("#!/bin/sh\nexit 101\n", encoding="ascii")
        POLICY_RC_D.chmod(0o755)
    except OSError as exc:
        raise ToolsUnavailable(f"cannot write {POLICY_RC_D} to install quietly: {exc}") from exc
    try:
        yield
    finally:
        POLICY_RC_D.unlink(missing_ok=True)


def apt_install(package: str) -> None:
    """`apt-get install` `package`, fetching the package lists first if the install fails."""
    if shutil.which("apt-get") is None:
        raise ToolsUnavailable(f"apt-get is not available to install Debian's {package!r}")
    install = ("install", "-y", "--no-install-recommends", package)
    with _services_stay_stopped():
        result = _apt(*install)
        if result.returncode != 0:
            # A fresh machine has no package lists yet: fetch them once and try again.
            update = _apt("update")
            if update.returncode != 0:
                raise ToolsUnavailable(
                    f"`apt-get update` failed with exit code {update.returncode}: "
                    f"{update.stderr.strip()[-2000:]}"
                )
            result = _apt(*install)
    if result.returncode != 0:
        raise ToolsUnavailable(
            f"`apt-get {' '.join(install)}` failed with exit code {result.returncode}: "
            f"{result.stderr.strip()[-2000:]}"
        )


def found_or_installed(package: str, find: Callable[[], T | None], *, what: str) -> T:
    """What `find` finds, installing Debian's `package` first if it finds nothing; `what` names
    the tool in the error when even the installed package does not provide it."""
    found = find()
    if found is not None:
        return found
    apt_install(package)
    found = find()
    if found is None:
        raise ToolsUnavailable(f"Debian's {package!r} package installed, yet {what}")
    return found
