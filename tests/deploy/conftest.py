"""The compose file as Compose itself reads it (`config`: parsed, interpolated, validated)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import alertmanager_tools, compose_tools, infra

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"


@pytest.fixture(scope="session")
@infra.needs(infra.SUBPROCESS)  # `docker compose config` (or docker-compose) runs as a child
def compose() -> list[str]:
    # No skip when missing: an unvalidated compose file is a broken one we have not noticed.
    return compose_tools.find_or_install()


def compose_config(compose: list[str], *args: str) -> dict[str, Any]:
    # A clean environment: a HUSTLEHUB_* variable of the machine must not change the defaults
    # under test through interpolation.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(ROOT)}
    result = subprocess.run(
        [*compose, "--project-directory", str(ROOT), "-f", str(COMPOSE_FILE), *args, "config"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    loaded: dict[str, Any] = yaml.safe_load(result.stdout)
    return loaded


@pytest.fixture(scope="session")
def stack(compose: list[str]) -> dict[str, Any]:
    return compose_config(compose, "--profile", "load")


@pytest.fixture(scope="session")
@infra.needs(infra.PROMETHEUS)
def alertmanager() -> Path:
    # No skip when missing, as for Prometheus's tools: alerts that never reach Alertmanager
    # are an outage nobody is paged for.
    return alertmanager_tools.find_or_install()
