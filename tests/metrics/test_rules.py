"""The rule files: valid for Prometheus, tested by promtool, and in step with metrics.slo."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from metrics.rules import RULES_DIR, alert_groups, rule_files
from metrics.rules.__main__ import main as rules_main
from metrics.slo import ALERTS, FAST_BURN, OBJECTIVES, SLOW_BURN
from tests.metrics.samples import load_yaml
from tests.support.prometheus_tools import Tools

RULE_FILES = [RULES_DIR / "recording.yml", RULES_DIR / "alerts.yml"]
PROMTOOL_TESTS = sorted((RULES_DIR / "tests").glob("*.yml"))
# The first test to ask for the tools may have to apt-get install them (fixture setup counts
# toward pytest-timeout's limit).
INSTALL_TIMEOUT = pytest.mark.timeout(900)


def _promtool(tools: Tools, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(tools.promtool), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=RULES_DIR,
    )


@INSTALL_TIMEOUT
def test_promtool_accepts_the_rule_files(prometheus_tools: Tools) -> None:
    result = _promtool(prometheus_tools, "check", "rules", *RULE_FILES)
    assert result.returncode == 0, result.stdout + result.stderr


@INSTALL_TIMEOUT
def test_promtool_unit_tests_pass(prometheus_tools: Tools) -> None:
    assert PROMTOOL_TESTS, "no promtool tests found"
    result = _promtool(prometheus_tools, "test", "rules", *PROMTOOL_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(PROMTOOL_TESTS), result.stdout


def test_committed_rule_files_are_the_generated_ones() -> None:
    for name, text in rule_files().items():
        assert (RULES_DIR / name).read_text(encoding="utf-8") == text, (
            f"{name} is stale: run `python -m metrics.rules`"
        )
    assert rules_main(["--check"]) == 0


def _alert_exprs() -> dict[str, str]:
    doc = load_yaml(RULES_DIR / "alerts.yml")
    return {rule["alert"]: rule["expr"] for group in doc["groups"] for rule in group["rules"]}


def _thresholds(expr: str) -> list[float]:
    # Every number a comparison is made against: "> 0.01" or "> (14.4 * 0.001)".
    found = []
    for single, factor, base in re.findall(r">\s*(?:([\d.]+)|\(([\d.]+)\s*\*\s*([\d.]+)\))", expr):
        found.append(float(single) if single else float(factor) * float(base))
    return found


def test_yaml_thresholds_equal_the_slo_numbers() -> None:
    exprs = _alert_exprs()
    budget = 1 - OBJECTIVES.availability
    expected = {
        "HustleHubDynamoDBThrottling": [ALERTS.throttle_ratio],
        "HustleHubHighErrorRate": [ALERTS.error_ratio],
        "HustleHubHighLatencyP99": [ALERTS.p99_seconds],
        "HustleHubErrorBudgetBurnFast": [FAST_BURN.burn_rate * budget] * 2,
        "HustleHubErrorBudgetBurnSlow": [SLOW_BURN.burn_rate * budget] * 2,
        "HustleHubDown": [],
        "HustleHubStreamLag": [ALERTS.stream_lag_seconds],
        "HustleHubShadowMismatches": [0],
        "HustleHubOutboxDeadLetters": [0],
        "HustleHubRedisBreakerOpen": [0],
    }
    assert set(exprs) == set(expected)
    for alert, thresholds in expected.items():
        assert _thresholds(exprs[alert]) == pytest.approx(thresholds), alert
    # The design guide's numbers themselves, so an edit to slo.py is a deliberate one.
    assert (ALERTS.throttle_ratio, ALERTS.error_ratio, ALERTS.p99_seconds) == (0.01, 0.005, 0.1)
    assert (OBJECTIVES.read_p99_seconds, OBJECTIVES.write_p99_seconds) == (0.05, 0.1)
    assert (OBJECTIVES.error_rate, OBJECTIVES.availability) == (0.001, 0.999)
    assert (FAST_BURN.burn_rate, FAST_BURN.long_window, FAST_BURN.short_window) == (
        14.4,
        "1h",
        "5m",
    )
    assert (SLOW_BURN.burn_rate, SLOW_BURN.long_window, SLOW_BURN.short_window) == (
        6.0,
        "6h",
        "30m",
    )


def test_burn_rate_alerts_read_both_windows() -> None:
    exprs = _alert_exprs()
    for alert, burn in (("Fast", FAST_BURN), ("Slow", SLOW_BURN)):
        expr = exprs[f"HustleHubErrorBudgetBurn{alert}"]
        assert f"ratio_rate{burn.long_window} >" in expr
        assert f"ratio_rate{burn.short_window} >" in expr
        assert " and " in expr


def _alert_cases() -> dict[str, list[list[Any]]]:
    cases: dict[str, list[list[Any]]] = {}
    for path in PROMTOOL_TESTS:
        for test in load_yaml(path)["tests"]:
            for case in test.get("alert_rule_test", []):
                cases.setdefault(case["alertname"], []).append(case.get("exp_alerts") or [])
    return cases


def test_every_alert_has_a_firing_and_a_silent_promtool_case() -> None:
    cases = _alert_cases()
    for group in alert_groups():
        for rule in group.rules:
            name = getattr(rule, "alert", None)
            if name is None:
                continue
            expected = cases.get(name, [])
            assert any(expected), f"no promtool case where {name} fires"
            assert not all(expected), f"no promtool case where {name} stays silent"


def test_every_alert_points_at_its_runbook_in_the_docs() -> None:
    operations = (RULES_DIR.parents[1] / "docs" / "operations.md").read_text(encoding="utf-8")
    # GitHub's anchors: a heading lower-cased, its spaces made hyphens.
    anchors = {
        re.sub(r"\s+", "-", line.lstrip("#").strip().lower())
        for line in operations.splitlines()
        if line.startswith("#")
    }
    doc = load_yaml(RULES_DIR / "alerts.yml")
    for group in doc["groups"]:
        for rule in group["rules"]:
            page, _, anchor = rule["annotations"]["runbook_url"].partition("#")
            assert page == "docs/operations.md", rule["alert"]
            assert anchor in anchors, f"{rule['alert']}: no heading #{anchor} in {page}"
