"""Stages side by side, and the cost-allocation tags on everything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from service.aws.infra.app import REPO, add_stage
from service.aws.infra.stack import Sources
from service.aws.infra.stage import DEV, PROD, Stage, stage_named
from service.aws.infra.tagging import FEATURE_TAG, FEATURES, PROJECT_TAG, STAGE_TAG
from tests.infra.synth import CERTIFICATE, REGION, STAGES, Synthesised, Template

# The properties that name a resource where a name must be unique in an account and region.
NAME_PROPERTIES = (
    "AlarmName",
    "ClientName",
    "ClusterName",
    "Family",
    "FunctionName",
    "LogGroupName",
    "Name",
    "QueueName",
    "ReplicationGroupId",
    "RoleName",
    "ServiceName",
    "TableName",
    "TopicName",
    "UserPoolName",
)


def named(template: Template) -> dict[str, str]:
    """Every name the template gives a resource itself, rather than leaving it to CloudFormation."""
    names: dict[str, str] = {}
    for logical, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        budget = properties.get("Budget", {})
        for key, value in [*properties.items(), *budget.items()]:
            if (key in NAME_PROPERTIES or key == "BudgetName") and isinstance(value, str):
                names[f"{logical}.{key}"] = value
    return names


def test_two_stages_in_one_account_and_region_share_no_name(synthesised: Synthesised) -> None:
    dev, prod = named(synthesised.of(DEV)), named(synthesised.of(PROD))
    # The ones that collided when fixed, and the budget and alarms, account-wide names.
    for key in ("TableName", "UserPoolName", "BudgetName", "AlarmName", "Family"):
        assert any(k.endswith(f".{key}") for k in dev), key
    assert dev["TableDirectoryTableEE74DC43.TableName"] == DEV.table_name
    assert not set(dev.values()) & set(prod.values())
    assert DEV.stack_name != PROD.stack_name


def _taggable(kind: str) -> str | None:
    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(REGION, kind).schema
    tagging = schema.get("tagging", {})
    if not tagging.get("taggable"):
        return None
    return str(tagging["tagProperty"]).removeprefix("/properties/")


def _tags(value: Any) -> dict[str, str]:
    if isinstance(value, dict):  # a map of tags (UserPoolTags)
        return dict(value)
    return {tag["Key"]: tag["Value"] for tag in value}


@STAGES
def test_every_taggable_resource_carries_its_stage_and_feature(
    synthesised: Synthesised, stage: Stage
) -> None:
    template = synthesised.of(stage)
    features: set[str] = set()
    checked = 0
    for logical, resource in template["Resources"].items():
        field = _taggable(resource["Type"])
        if field is None:
            continue
        tags = _tags(resource["Properties"].get(field, []))
        assert tags.get(STAGE_TAG) == stage.name, logical
        assert tags.get(PROJECT_TAG) == "hustlehub", logical
        assert tags.get(FEATURE_TAG) in FEATURES, logical
        features.add(tags[FEATURE_TAG])
        checked += 1
    assert checked > 50
    assert features == set(FEATURES)


def test_an_unknown_stage_is_refused() -> None:
    assert stage_named("prod") is PROD
    with pytest.raises(ValueError, match="unknown stage"):
        stage_named("qa")


def test_production_without_a_certificate_is_refused(tmp_path: Path) -> None:
    package = tmp_path / "package.zip"
    package.write_bytes(b"")
    with pytest.raises(ValueError, match="certificateArn"):
        add_stage(
            App(outdir=str(tmp_path)),
            PROD,
            sources=Sources(repo=REPO, lambda_package=package),
            region=REGION,
            certificate_arn=None,
        )


def test_a_certificate_comes_with_the_origin_name_cloudfront_checks_it_against(
    tmp_path: Path,
) -> None:
    package = tmp_path / "package.zip"
    package.write_bytes(b"")
    with pytest.raises(ValueError, match="originDomain"):
        add_stage(
            App(outdir=str(tmp_path)),
            PROD,
            sources=Sources(repo=REPO, lambda_package=package),
            region=REGION,
            certificate_arn=CERTIFICATE,
        )


def test_a_missing_lambda_package_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="make lambda-package"):
        add_stage(
            App(outdir=str(tmp_path)),
            DEV,
            sources=Sources(repo=REPO, lambda_package=tmp_path / "absent.zip"),
            region=REGION,
            certificate_arn=None,
        )


@STAGES
def test_the_outputs_give_clients_and_operators_what_they_need(
    synthesised: Synthesised, stage: Stage
) -> None:
    outputs = synthesised.of(stage)["Outputs"]
    assert {
        "ApiUrl",
        "ServiceUrl",
        "TableName",
        "StreamArn",
        "UserPoolId",
        "UserPoolClientId",
        "AlarmTopicArn",
        "NatEgressAddresses",
        "ClusterName",
        "OneOffTaskDefinition",
        "PrivateSubnets",
        "ServiceSecurityGroup",
    } <= set(outputs)
    scheme = "https" if stage.production else "http"
    assert outputs["ServiceUrl"]["Value"]["Fn::Join"][1][0] == f"{scheme}://"
    value = outputs["NatEgressAddresses"]["Value"]
    # A join of one address is the address itself.
    addresses = value["Fn::Join"][1] if "Fn::Join" in value else [value]
    assert len(addresses) == stage.nat_gateways
    assert all(set(a) == {"Ref"} for a in addresses)
