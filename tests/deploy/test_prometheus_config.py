"""The compose stack's Prometheus: its config checked by promtool where the container sees it,
and one scrape target per `serve` process, whatever its worker count."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.compose import command, lay_out, ports
from tests.deploy.conftest import ROOT
from tests.support.prometheus_tools import Tools

CONFIG = ROOT / "deploy/prometheus/prometheus.yml"


def test_promtool_accepts_the_config_and_the_rules_it_loads(
    stack: dict[str, Any], tmp_path: Path, prometheus_tools: Tools
) -> None:
    prometheus = stack["services"]["prometheus"]
    lay_out(prometheus, tmp_path)
    flags = dict(arg.split("=", 1) for arg in command(prometheus) if "=" in arg)
    config = tmp_path / flags["--config.file"].lstrip("/")
    result = subprocess.run(
        [str(prometheus_tools.promtool), "check", "config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # promtool also checked both rule files, found where the config says they are.
    for rules in ("recording.yml", "alerts.yml"):
        assert f"rules/{rules}" in result.stdout + result.stderr, result.stdout


def test_one_target_per_serve_process_on_the_service_port(stack: dict[str, Any]) -> None:
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "hustlehub"]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    targets = [t for group in job["static_configs"] for t in group["targets"]]
    service = stack["services"]["service"]
    (port,) = ports(service)
    # One host runs one `serve --workers N`; the workers share a multiprocess directory and
    # any of them answers with the sum, so N targets would count every request N times.
    assert int(command(service)[2]) >= 2
    assert targets == [f"service:{port.target}"]
    assert sorted(config["rule_files"]) == ["rules/alerts.yml", "rules/recording.yml"]
