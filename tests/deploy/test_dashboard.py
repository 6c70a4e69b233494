"""The provisioned Grafana: its datasource is the compose Prometheus, and every query of the
SLO dashboard is valid PromQL over metrics the real app exports (recording-rule names resolved
through metrics/rules/recording.yml), with the SLO lines at the numbers in metrics/slo.py."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import TestClient

from metrics.slo import ALERTS, OBJECTIVES
from service.runtime.appkeys import TABLE
from tests.api.factories import create_category, create_listing
from tests.deploy.compose import mounts
from tests.deploy.conftest import ROOT
from tests.deploy.promql import metric_names, resolve
from tests.integration.store.test_retries import throttling
from tests.metrics.exposition import Scrape
from tests.support.app import bearer
from tests.support.prometheus_tools import Tools

GRAFANA = ROOT / "deploy/grafana"
DASHBOARD = GRAFANA / "dashboards/slo.json"
RECORDING = ROOT / "metrics/rules/recording.yml"


def _dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return loaded


def _expressions() -> list[str]:
    return [target["expr"] for panel in _dashboard()["panels"] for target in panel["targets"]]


def _recorded() -> dict[str, str]:
    rules = yaml.safe_load(RECORDING.read_text(encoding="utf-8"))
    return {r["record"]: r["expr"] for group in rules["groups"] for r in group["rules"]}


def _missing(expressions: list[str], exported: set[str]) -> dict[str, set[str]]:
    recorded = _recorded()
    gaps = {expr: resolve(metric_names(expr), recorded) - exported for expr in expressions}
    return {expr: names for expr, names in gaps.items() if names}


@pytest.fixture
async def exported(client: TestClient[Any, Any], admin_token: str, user_token: str) -> set[str]:
    """Sample names on /metrics after writes, reads (misses, then hits) and one throttle."""
    category = await create_category(client, admin_token)
    listing = await create_listing(client, admin_token, category["id"])
    profile = await client.put("/v1/me", json={"displayName": "Ada"}, headers=bearer(user_token))
    assert profile.status in (200, 201)  # a PutItem: write capacity gets its first series
    for _ in range(2):
        assert (await client.get("/v1/categories")).status == 200
        assert (await client.get(f"/v1/listings/{listing['slug']}")).status == 200
    # One throttled attempt, retried: the throttle and retry counters get their first series.
    handler, calls = throttling(1)
    events = client.app[TABLE].client.meta.events
    events.register("before-call.dynamodb", handler)
    try:
        assert (await client.get(f"/v1/listings/missing-{uuid.uuid4().hex[:8]}")).status == 404
    finally:
        events.unregister("before-call.dynamodb", handler)
    assert calls[0] >= 2
    response = await client.get("/metrics")
    assert response.status == 200
    return {name for name, _labels, _value in Scrape(await response.text()).samples}


async def test_every_dashboard_query_reads_metrics_the_service_exports(
    exported: set[str],
) -> None:
    expressions = _expressions()
    assert len(expressions) >= 10
    assert _missing(expressions, exported) == {}


async def test_a_misspelt_metric_would_be_caught(exported: set[str]) -> None:
    typo = 'sum(rate(hustlehub_cache_hit_total{layer="memory"}[$__rate_interval]))'
    assert _missing([typo], exported) == {typo: {"hustlehub_cache_hit_total"}}
    unknown_rule = "hustlehub:http_read_request_duration_seconds:p95_rate5m"
    with pytest.raises(KeyError, match="p95_rate5m"):
        _missing([unknown_rule], exported)


def test_metric_names_leave_out_labels_functions_and_durations() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (le, operation) (rate(a_bucket{method=~"GET|HEAD",'
        'le="0.05"}[$__rate_interval]))) / on (job) group_left b_total offset 5m > bool 1e-3'
        " or vector(0)"
    )
    assert metric_names(expr) == {"a_bucket", "b_total"}
    assert metric_names("hustlehub:http_requests:rate5m * 60") == {"hustlehub:http_requests:rate5m"}


def test_every_dashboard_query_is_valid_promql(tmp_path: Path, prometheus_tools: Tools) -> None:
    # promtool checks expressions inside rule files; Grafana's interval variable becomes a
    # duration first, as Grafana does before sending a query.
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {
                        "record": f"dashboard:query:{n}",
                        "expr": expr.replace("$__rate_interval", "1m"),
                    }
                    for n, expr in enumerate(_expressions())
                ],
            }
        ]
    }
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(json.dumps(rules), encoding="utf-8")
    result = subprocess.run(
        [str(prometheus_tools.promtool), "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _panel(title_start: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        p for p in _dashboard()["panels"] if p["title"].startswith(title_start)
    ]
    (panel,) = found
    return panel


def _steps(panel: dict[str, Any]) -> set[float]:
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    return {step["value"] for step in steps if step["value"] is not None}


def test_the_slo_lines_are_the_objectives() -> None:
    for title in ("Read P99 (SLO", "Read P99 against"):
        assert _steps(_panel(title)) == {OBJECTIVES.read_p99_seconds}
    for title in ("Write P99 (SLO", "Write P99 against"):
        assert _steps(_panel(title)) == {OBJECTIVES.write_p99_seconds}
    for title in ("Error ratio (SLO", "Error ratio (5m"):
        assert _steps(_panel(title)) == {OBJECTIVES.error_rate, ALERTS.error_ratio}
    assert _steps(_panel("DynamoDB throttled")) == {ALERTS.throttle_ratio}
    # Each required view is on the dashboard.
    titles = " ".join(p["title"] for p in _dashboard()["panels"])
    for needed in ("Cache hit ratio", "consumed capacity", "throttles", "Error ratio"):
        assert needed in titles


def test_grafana_provisions_the_datasource_and_the_dashboard(stack: dict[str, Any]) -> None:
    (datasource,) = yaml.safe_load(
        (GRAFANA / "provisioning/datasources/prometheus.yml").read_text(encoding="utf-8")
    )["datasources"]
    prometheus_port = 9090
    assert datasource["url"] == f"http://prometheus:{prometheus_port}"
    assert "prometheus" in stack["services"]
    uids = {
        target["datasource"]["uid"]
        for panel in _dashboard()["panels"]
        for target in [panel, *panel["targets"]]
    }
    assert uids == {datasource["uid"]}

    (provider,) = yaml.safe_load(
        (GRAFANA / "provisioning/dashboards/hustlehub.yml").read_text(encoding="utf-8")
    )["providers"]
    grafana = stack["services"]["grafana"]
    by_target = {m.target: Path(m.source) for m in mounts(grafana)}
    dashboards_dir = by_target[provider["options"]["path"]]
    assert (dashboards_dir / DASHBOARD.name).read_bytes() == DASHBOARD.read_bytes()
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{provider['options']['path']}/{DASHBOARD.name}"
    assert _dashboard()["uid"] == "hustlehub-slo"
