"""What checks the synthesised stack: cdk-nag's AwsSolutions rules (every finding acknowledged
carries its reason) and cfn-lint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from cfnlint.api import ManualArgs, lint

from service.aws.infra.app import checked
from service.aws.infra.nag import accepted, suppress
from service.aws.infra.stage import DEV, Stage
from tests.infra.synth import REGION, STAGES, Synthesised, Template

# cfn-lint findings about what CDK itself writes.
LINT_IGNORED = [
    # CDK makes a function depend on its role as well as GetAtt-ing the role's ARN.
    "W3005",
]
# cfn-lint resolves LegacyDsnArn to its empty default, though the two policies naming it exist
# only in the legacy phases, where the LegacyPhaseNeedsDsn rule requires an ARN.
LEGACY_ARN_AT_ITS_DEFAULT = ("W1030", "{'Ref': 'LegacyDsnArn'}")


def plugin_reports(synthesised: Synthesised) -> list[dict[str, Any]]:
    report = json.loads((synthesised.outdir / "validation-report.json").read_text())
    reports: list[dict[str, Any]] = report["pluginReports"]
    return reports


def test_every_check_passes(synthesised: Synthesised) -> None:
    reports = {r["pluginName"]: r for r in plugin_reports(synthesised)}
    assert "AwsSolutions" in reports
    for name, report in reports.items():
        assert (report["conclusion"], report["violations"]) == ("success", []), name


@STAGES
def test_the_accepted_findings_are_the_listed_ones_each_with_its_reason(
    synthesised: Synthesised, stage: Stage
) -> None:
    (nag,) = [r for r in plugin_reports(synthesised) if r["pluginName"] == "AwsSolutions"]
    prefix = f"{stage.stack_name}/"
    suppressed = {
        (s["acknowledgedAt"].removeprefix(prefix), s["ruleName"], s["reason"])
        for s in nag["suppressedViolations"]
        if s["acknowledgedAt"].startswith(prefix)
    }
    listed = accepted(stage)
    assert suppressed == set(listed)
    for _, finding, reason in listed:
        assert len(reason) > 40, finding
    # The template carries each acknowledgement and its reason too, as cdk-nag v2 wrote them.
    written = {
        (rule["id"], rule["reason"])
        for resource in synthesised.of(stage)["Resources"].values()
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
        if rule["id"].startswith("AwsSolutions::")
    }
    assert written == {(f"AwsSolutions::{f}", r) for _, f, r in listed}


def test_cdk_nag_fails_the_synthesis_of_an_unsafe_stack(tmp_path: Path) -> None:
    app = checked(App(outdir=str(tmp_path)))
    stack = Stack(app, "Unsafe")
    s3.Bucket(stack, "Open")
    role = iam.Role(stack, "Broad", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    role.add_to_policy(iam.PolicyStatement(actions=["dynamodb:*"], resources=["*"]))
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    rules = {v["ruleName"] for p in report["pluginReports"] for v in p["violations"]}
    assert {"AwsSolutions-S1", "AwsSolutions-S10", "AwsSolutions-IAM5[Resource::*]"} <= rules


def test_an_acknowledgement_of_a_construct_that_is_gone_is_refused() -> None:
    with pytest.raises(LookupError, match="Network/BalancerSecurityGroup"):
        suppress(Stack(App(), "Empty"), DEV)


def _lint(template: Template) -> list[tuple[str, str]]:
    config = ManualArgs(regions=[REGION], ignore_checks=LINT_IGNORED)
    rule, ref = LEGACY_ARN_AT_ITS_DEFAULT
    return [
        (match.rule.id, match.message)
        for match in lint(json.dumps(template), config=config)
        if not (match.rule.id == rule and ref in match.message)
    ]


@STAGES
def test_cfn_lint_finds_nothing(synthesised: Synthesised, stage: Stage) -> None:
    assert _lint(synthesised.of(stage)) == []


def test_cfn_lint_is_not_blind_to_an_action_that_does_not_exist(synthesised: Synthesised) -> None:
    # TransactWriteItems is an API, not an IAM action: granting it grants nothing.
    broken = json.loads(json.dumps(synthesised.of(DEV)))
    role = next(k for k in broken["Resources"] if k.startswith("ApiServiceTaskRole"))
    statement = broken["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]
    statement["Statement"][0]["Action"].append("dynamodb:TransactWriteItems")
    assert {rule for rule, _ in _lint(broken)} == {"W3037"}
