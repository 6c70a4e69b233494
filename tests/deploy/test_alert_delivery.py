"""The compose stack's alerting run for real: Prometheus, with the compose's config and rules,
sends firing alerts to Alertmanager, with the compose's config, which routes them.

No Docker engine here, so both run as Debian's programs on loopback, each on the very files
docker-compose.yml mounts. The Prometheus config changes only where a container name must
become a loopback address; the service it scrapes is a dead port. An extra rule file adds
two alerts that fire at once, one per receiver of the compose's routing tree.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.compose import flags, lay_out, mounts
from tests.deploy.conftest import ROOT
from tests.support.alertmanager_tools import AlertmanagerServer, run_alertmanager
from tests.support.prometheus_tools import PrometheusServer, Tools, free_port, serve_prometheus

DELIVERY_S = 30.0  # Prometheus evaluates every 1 s and sends at once: seconds are plenty
POLL_S = 0.25
# A severity per receiver of deploy/alertmanager/alertmanager.yml.
CHECKS = {"HustleHubDeliveryCheckPage": "page", "HustleHubDeliveryCheckTicket": "ticket"}
SERVICE_DOWN = "HustleHubDown"
# Alerts of the first evaluations are dropped: the notifier learns of its static Alertmanager
# only after the discovery manager's first update, some seconds after start. Prometheus sends
# a firing alert again only after the resend delay, 1 m by default; 1 s resends it as soon as
# the Alertmanager is known.
RESEND = "--rules.alert.resend-delay=1s"


def _mounted_file(service: dict[str, Any], target: str) -> Path:
    (mount,) = [m for m in mounts(service) if m.target == target]
    return ROOT / mount.source


def _check_rules(path: Path, run: str) -> Path:
    rules = [
        {
            "alert": name,
            "expr": "vector(1)",
            "for": "0s",
            "labels": {"severity": severity, "run": run},
            "annotations": {"summary": f"alert delivery check, {severity}"},
        }
        for name, severity in CHECKS.items()
    ]
    # JSON is YAML: no YAML writer needed.
    path.write_text(json.dumps({"groups": [{"name": "delivery-check", "rules": rules}]}))
    return path


def _on_loopback(config: dict[str, Any], hosts: dict[str, str], rules: Path) -> dict[str, Any]:
    """The compose's config with every target's container name replaced from `hosts`, 1 s
    evaluation, and `rules` loaded after the compose's own rule files."""

    def moved(target: str) -> str:
        host = target.rsplit(":", 1)[0]
        assert host in hosts, f"no loopback stand-in for the target {target!r}"
        return hosts[host]

    config = copy.deepcopy(config)
    config["global"]["evaluation_interval"] = "1s"
    jobs = [*config["alerting"]["alertmanagers"], *config["scrape_configs"]]
    for group in (group for job in jobs for group in job["static_configs"]):
        group["targets"] = [moved(target) for target in group["targets"]]
    config["rule_files"] = [*config["rule_files"], str(rules)]
    return config


def _service_down_for_s(prometheus: PrometheusServer) -> float:
    groups = prometheus.api("/api/v1/rules?type=alert")["groups"]
    (rule,) = [r for g in groups for r in g["rules"] if r["name"] == SERVICE_DOWN]
    return float(rule["duration"])


def _await_delivery(alertmanager: AlertmanagerServer, names: set[str]) -> dict[str, dict[str, Any]]:
    """The alerts of `names` Alertmanager holds, once it holds them all or DELIVERY_S
    have passed, whichever comes first."""
    deadline = time.monotonic() + DELIVERY_S
    held: dict[str, dict[str, Any]] = {}
    for _ in range(int(DELIVERY_S / POLL_S) + 1):  # bounded by count as well as by time
        held = {a["labels"]["alertname"]: a for a in alertmanager.alerts()}
        if names <= held.keys() or time.monotonic() > deadline:
            break
        time.sleep(POLL_S)
    return {name: alert for name, alert in held.items() if name in names}


def test_prometheus_delivers_firing_alerts_to_the_compose_alertmanager(
    stack: dict[str, Any], tmp_path: Path, prometheus_tools: Tools, alertmanager: Path
) -> None:
    services = stack["services"]
    manager_config = _mounted_file(
        services["alertmanager"], flags(services["alertmanager"])["--config.file"]
    )
    # The compose's rule files, where its config (relative paths) expects them.
    container = tmp_path / "prometheus-root"
    lay_out(services["prometheus"], container)
    config_file = container / flags(services["prometheus"])["--config.file"].lstrip("/")
    config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    run = uuid.uuid4().hex
    prometheus_port = free_port()

    with run_alertmanager(alertmanager, manager_config, tmp_path / "alertmanager") as manager:
        hosts = {
            "alertmanager": f"127.0.0.1:{manager.port}",
            "service": f"127.0.0.1:{free_port()}",  # nothing listens: the service is down
            "localhost": f"127.0.0.1:{prometheus_port}",  # Prometheus scrapes itself
        }
        rules = _check_rules(tmp_path / "delivery-check.yml", run)
        config_file.write_text(json.dumps(_on_loopback(config, hosts, rules)), encoding="utf-8")
        with serve_prometheus(
            prometheus_tools,
            config_file,
            tmp_path / "prometheus",
            port=prometheus_port,
            options=[RESEND],
        ) as prometheus:
            expected = set(CHECKS)
            # The service-down alert is awaited too only if its `for:` fits the bound; the
            # real rules are never shortened for a test (2 m today: it stays pending here).
            down_for_s = _service_down_for_s(prometheus)
            if down_for_s <= DELIVERY_S / 2:
                expected.add(SERVICE_DOWN)
            delivered = _await_delivery(manager, expected)
            logs = f"\nprometheus:\n{prometheus.log_tail()}\nalertmanager:\n{manager.log_tail()}"
            assert delivered.keys() == expected, logs
            for name, severity in CHECKS.items():
                alert = delivered[name]
                assert alert["labels"].items() >= {"severity": severity, "run": run}.items()
                assert alert["status"]["state"] == "active", alert
                # Routed by the compose's tree: by severity, to the receiver of that name.
                assert [r["name"] for r in alert["receivers"]] == [severity], alert

            managers = prometheus.api("/api/v1/alertmanagers")
            assert [m["url"] for m in managers["activeAlertmanagers"]] == [
                f"{manager.url}/api/v2/alerts"
            ]
            # The compose's own rules are loaded and see the dead target.
            alerts = prometheus.api("/api/v1/alerts")["alerts"]
            states = {a["labels"]["alertname"]: a["state"] for a in alerts}
            assert states.get(SERVICE_DOWN) in {"pending", "firing"}, (states, down_for_s)
