"""A real Alertmanager for the tests, the program the compose stack's image runs.

`find_or_install()` finds it on PATH, else installs Debian's `prometheus-alertmanager`
package (`tests/support/debian.py`), which names the binary `prometheus-alertmanager`.
`run_alertmanager()` starts it alone on a free loopback port. Every wait here is bounded.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from tests.support.debian import found_or_installed
from tests.support.prometheus_tools import free_port, log_tail, stop, wait_ready

APT_PACKAGE = "prometheus-alertmanager"
# Upstream's name first (the release tarball, the prom/alertmanager image), then Debian's.
PROGRAMS = ("alertmanager", "prometheus-alertmanager")


def _on_path() -> Path | None:
    for program in PROGRAMS:
        found = shutil.which(program)
        if found is not None:
            return Path(found)
    return None


def find_or_install() -> Path:
    """The alertmanager binary from PATH, installing Debian's package if it is missing."""
    return found_or_installed(APT_PACKAGE, _on_path, what=f"none of {PROGRAMS} is on PATH")


class AlertmanagerServer:
    def __init__(self, port: int, process: subprocess.Popen[bytes], log: Path) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.process = process
        self.log = log

    def alerts(self) -> list[dict[str, Any]]:
        """Every alert Alertmanager holds (`GET /api/v2/alerts`), whatever its routing."""
        with urllib.request.urlopen(f"{self.url}/api/v2/alerts", timeout=5) as response:
            return cast(list[dict[str, Any]], json.load(response))

    def log_tail(self) -> str:
        return log_tail(self.log)


@contextmanager
def run_alertmanager(
    binary: Path, config_file: Path, workdir: Path, *, startup_timeout_s: float = 30.0
) -> Iterator[AlertmanagerServer]:
    """An Alertmanager on 127.0.0.1 running `config_file`, its silences and notification log
    in `workdir`."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = workdir / "alertmanager.log"
    argv = [
        str(binary),
        f"--config.file={config_file}",
        f"--storage.path={workdir / 'data'}",
        # Empty: no gossip cluster. Its default listens on every interface at :9094, and a
        # lone instance waits for peers that never come before it settles.
        "--cluster.listen-address=",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with log.open("wb") as log_file:
        process = subprocess.Popen(argv, stdout=log_file, stderr=subprocess.STDOUT)
    server = AlertmanagerServer(port, process, log)
    try:
        wait_ready("alertmanager", server.url, process, log, timeout_s=startup_timeout_s)
        yield server
    finally:
        stop(process)
