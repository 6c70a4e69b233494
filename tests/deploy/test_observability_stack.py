"""The compose stack's traces and alerts: the service exports to the OpenTelemetry collector,
the collector to Jaeger, Prometheus to Alertmanager; each config file as its container mounts
it. Read only: test_alert_delivery.py runs Prometheus and Alertmanager for real; the collector
and Jaeger have no package here to run."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import yaml

from tests.deploy.compose import command, depends_on, mounts, ports
from tests.deploy.conftest import ROOT


def _mounted(service: dict[str, Any], target: str) -> dict[str, Any]:
    (mount,) = [m for m in mounts(service) if m.target == target]
    assert mount.read_only, mount
    loaded: dict[str, Any] = yaml.safe_load((ROOT / mount.source).read_text(encoding="utf-8"))
    return loaded


def test_the_service_traces_through_the_collector_to_jaeger(stack: dict[str, Any]) -> None:
    services = stack["services"]
    env = services["service"]["environment"]
    assert env["HUSTLEHUB_TRACING"] == "true"
    endpoint = urlsplit(env["HUSTLEHUB_TRACING_OTLP_ENDPOINT"])
    assert (endpoint.hostname, endpoint.path) == ("otel-collector", "/v1/traces")
    assert 0 < float(env["HUSTLEHUB_TRACING_SAMPLE_RATIO"]) <= 1

    collector = services["otel-collector"]
    assert collector["image"].startswith("otel/opentelemetry-collector")
    flags = dict(arg.split("=", 1) for arg in command(collector) if "=" in arg)
    config = _mounted(collector, flags["--config"])
    http = config["receivers"]["otlp"]["protocols"]["http"]["endpoint"]
    assert http.rsplit(":", 1)[1] == str(endpoint.port)  # what the service sends to
    (pipeline,) = config["service"]["pipelines"].values()
    assert pipeline["receivers"] == ["otlp"]
    (exporter,) = pipeline["exporters"]
    assert config["exporters"][exporter]["endpoint"] == "jaeger:4317"
    assert depends_on(collector) == {"jaeger": "service_started"}

    jaeger = services["jaeger"]
    assert jaeger["image"].startswith("jaegertracing/all-in-one:")
    assert jaeger["environment"]["COLLECTOR_OTLP_ENABLED"] == "true"
    assert [p.target for p in ports(jaeger)] == [16686]  # the UI


def test_prometheus_sends_its_alerts_to_alertmanager(stack: dict[str, Any]) -> None:
    services = stack["services"]
    prometheus = _mounted(services["prometheus"], "/etc/prometheus/prometheus.yml")
    (manager,) = prometheus["alerting"]["alertmanagers"]
    (targets,) = [group["targets"] for group in manager["static_configs"]]
    alertmanager = services["alertmanager"]
    (port,) = ports(alertmanager)
    assert targets == [f"alertmanager:{port.target}"]
    assert "alertmanager" in depends_on(services["prometheus"])

    flags = dict(arg.split("=", 1) for arg in command(alertmanager) if "=" in arg)
    config = _mounted(alertmanager, flags["--config.file"])
    receivers = {r["name"] for r in config["receivers"]}
    route = config["route"]
    assert route["receiver"] in receivers
    # Pages and tickets are routed apart, by the severity every alert carries.
    routed = {r["receiver"]: r["matchers"] for r in route["routes"]}
    assert routed["page"] == ['severity="page"']
    assert receivers == {"page", "ticket"}
