"""Several regions (`-c replicaRegions=...`): one global table in the primary's stack with a
replica in every region, and a stack per replica region that serves, reads its own region's
stream and invalidates its own region's Redis, with no table and no user pool of its own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from cfnlint.api import ManualArgs, lint

from service.aws.infra.app import REPO, add_stage
from service.aws.infra.nag import accepted
from service.aws.infra.regions import certificate_for, origin_for, placement
from service.aws.infra.stack import Sources
from service.aws.infra.stage import DEV, PROD, Stage
from service.store.keys import TTL_ATTRIBUTE
from service.store.schema import STREAM_VIEW, table_definition
from tests.infra.synth import (
    REGION,
    REPLICAS,
    STAGES,
    Replicated,
    Synthesised,
    Template,
    certificate_in,
    one,
    props,
    resources,
)
from tests.infra.test_checks import LEGACY_ARN_AT_ITS_DEFAULT, LINT_IGNORED

TABLE = "AWS::DynamoDB::Table"
GLOBAL_TABLE = "AWS::DynamoDB::GlobalTable"


def _environment(template: Template, definition: str) -> dict[str, Any]:
    task = props(template, "AWS::ECS::TaskDefinition", definition)
    return {e["Name"]: e["Value"] for e in task["ContainerDefinitions"][0]["Environment"]}


def _stream_grant(template: Template) -> Any:
    (role,) = {
        str(d["Properties"]["TaskRoleArn"]["Fn::GetAtt"][0])
        for d in resources(template, "AWS::ECS::TaskDefinition").values()
    }
    statements = template["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]
    (grant,) = [s for s in statements["Statement"] if s["Sid"] == "DirectoryTableStream"]
    return grant["Resource"]


@STAGES
def test_without_replicas_the_table_is_a_table_in_one_stack(
    synthesised: Synthesised, stage: Stage
) -> None:
    template = synthesised.of(stage)
    assert len(resources(template, TABLE)) == 1
    assert resources(template, GLOBAL_TABLE) == {}
    assert not any(k.startswith("ReplicationLatency") for k in template["Resources"])


@STAGES
def test_with_replicas_the_table_is_a_global_table_with_a_replica_in_every_region(
    replicated: Replicated, stage: Stage
) -> None:
    template = replicated.primary(stage)
    assert resources(template, TABLE) == {}
    _, resource = one(template, GLOBAL_TABLE)
    table = resource["Properties"]
    definition = table_definition(stage.table_name, deletion_protection=stage.production)
    for key in ("TableName", "KeySchema", "AttributeDefinitions", "GlobalSecondaryIndexes"):
        assert table[key] == definition[key]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["SSESpecification"] == {"SSEEnabled": True}
    assert table["StreamSpecification"] == {"StreamViewType": STREAM_VIEW}
    assert table["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}
    assert [r["Region"] for r in table["Replicas"]] == [REGION, *REPLICAS[stage.name]]
    for replica in table["Replicas"]:
        assert replica["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert replica["DeletionProtectionEnabled"] is stage.production
        tags = {t["Key"]: t["Value"] for t in replica["Tags"]}
        assert tags["hustlehub:stage"] == stage.name
        assert tags["hustlehub:feature"] == "table"
    kept = "Retain" if stage.production else "Delete"
    assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == (kept, kept)


@STAGES
def test_each_replica_region_has_a_stack_with_no_table_user_pool_or_budget(
    replicated: Replicated, stage: Stage
) -> None:
    for region in REPLICAS[stage.name]:
        template = replicated.replica(stage, region)
        assert replicated.regions[f"{stage.stack_name}-{region}"] == region
        for kind in (TABLE, GLOBAL_TABLE, "AWS::Cognito::UserPool", "AWS::Budgets::Budget"):
            assert resources(template, kind) == {}, kind
        assert resources(template, "AWS::Lambda::Function") == {}
        # What serves and invalidates in the region: its own network, Redis, both services.
        assert len(resources(template, "AWS::EC2::VPC")) == 1
        assert len(resources(template, "AWS::ElastiCache::ReplicationGroup")) == 1
        assert len(resources(template, "AWS::ECS::Service")) == 2
        assert len(resources(template, "AWS::CloudFront::Distribution")) == 1
        assert {"EmailFrom", "EmailIdentity", "MonthlyBudgetUsd"}.isdisjoint(template["Parameters"])


@STAGES
def test_each_region_s_consumer_reads_its_own_replica_s_stream(
    replicated: Replicated, stage: Stage
) -> None:
    primary = replicated.primary(stage)
    table, _ = one(primary, GLOBAL_TABLE)
    assert _stream_grant(primary) == {"Fn::GetAtt": [table, "StreamArn"]}
    for region in REPLICAS[stage.name]:
        template = replicated.replica(stage, region)
        streams = _environment(template, "StreamsTask")
        assert streams["HUSTLEHUB_STREAM_INVALIDATION"] == "true"
        assert _environment(template, "WebTask")["HUSTLEHUB_STREAM_INVALIDATION"] == "false"
        # The consumer finds its stream by DescribeTable on its region's replica, by name.
        assert streams["HUSTLEHUB_TABLE_NAME"] == stage.table_name
        assert streams["HUSTLEHUB_AWS_REGION"] == {"Ref": "AWS::Region"}
        grant = json.dumps(_stream_grant(template))
        assert f":dynamodb:{region}:" in grant
        assert f":table/{stage.table_name}/stream/*" in grant
        # Its invalidations go to its own region's Redis.
        service = props(template, "AWS::ECS::TaskDefinition", "StreamsTask")
        (url,) = [
            s["ValueFrom"]
            for s in service["ContainerDefinitions"][0]["Secrets"]
            if s.get("Name") == "HUSTLEHUB_REDIS_URL"
        ]
        assert url == {"Ref": one(template, "AWS::SecretsManager::Secret", "RedisUrl")[0]}


@STAGES
def test_every_region_trusts_the_one_user_pool_in_the_primary_region(
    replicated: Replicated, stage: Stage
) -> None:
    for region in REPLICAS[stage.name]:
        environment = _environment(replicated.replica(stage, region), "WebTask")
        assert environment["HUSTLEHUB_COGNITO_REGION"] == REGION
        for name in ("HUSTLEHUB_COGNITO_USER_POOL_ID", "HUSTLEHUB_COGNITO_APP_CLIENT_IDS"):
            source = environment[name]["Fn::GetStackOutput"]
            assert (source["StackName"], source["Region"]) == (stage.stack_name, REGION)


@STAGES
def test_every_region_alarms_on_its_writes_replication_to_the_others(
    replicated: Replicated, stage: Stage
) -> None:
    regions = (REGION, *REPLICAS[stage.name])
    for here in regions:
        name = stage.stack_name if here == REGION else f"{stage.stack_name}-{here}"
        template = replicated.templates[name]
        table = {"Ref": one(template, GLOBAL_TABLE)[0]} if here == REGION else stage.table_name
        alarms = resources(template, "AWS::CloudWatch::Alarm").values()
        latency = [
            a["Properties"]
            for a in alarms
            if a["Properties"].get("MetricName") == "ReplicationLatency"
        ]
        receiving = sorted(
            d["Value"] for a in latency for d in a["Dimensions"] if d["Name"] == "ReceivingRegion"
        )
        assert receiving == sorted(r for r in regions if r != here)
        for alarm in latency:
            assert alarm["Namespace"] == "AWS/DynamoDB"
            assert alarm["Threshold"] == 60_000  # milliseconds
            assert {"Name": "TableName", "Value": table} in alarm["Dimensions"]


def test_every_stack_of_every_region_passes_cdk_nag(replicated: Replicated) -> None:
    report = json.loads((replicated.outdir / "validation-report.json").read_text())
    (nag,) = [r for r in report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    assert (nag["conclusion"], nag["violations"]) == ("success", [])
    for stage in (DEV, PROD):
        for region in REPLICAS[stage.name]:
            prefix = f"{stage.stack_name}-{region}/"
            suppressed = {
                (s["acknowledgedAt"].removeprefix(prefix), s["ruleName"], s["reason"])
                for s in nag["suppressedViolations"]
                if s["acknowledgedAt"].startswith(prefix)
            }
            assert suppressed == set(accepted(stage, replica_in=region))


def test_cfn_lint_finds_nothing_in_any_region_s_stack(replicated: Replicated) -> None:
    for name, template in replicated.templates.items():
        config = ManualArgs(regions=[replicated.regions[name]], ignore_checks=LINT_IGNORED)
        found = [
            (m.rule.id, m.message)
            for m in lint(json.dumps(template), config=config)
            if not (
                m.rule.id == LEGACY_ARN_AT_ITS_DEFAULT[0]
                and LEGACY_ARN_AT_ITS_DEFAULT[1] in m.message
            )
        ]
        assert found == [], name


def _package(tmp_path: Path) -> Sources:
    package = tmp_path / "package.zip"
    package.write_bytes(b"")
    return Sources(repo=REPO, lambda_package=package)


@pytest.mark.parametrize("regions", ["eu-west1", "EU-WEST-1", "us-east-1,europe", "us_east_1"])
def test_a_bad_region_name_is_refused(tmp_path: Path, regions: str) -> None:
    with pytest.raises(ValueError, match="is not an AWS region name"):
        add_stage(
            App(outdir=str(tmp_path)),
            DEV,
            sources=_package(tmp_path),
            region=REGION,
            certificate_arn=None,
            replica_regions=regions,
        )


def test_the_primary_region_or_a_region_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="primary region"):
        placement(REGION, f"us-east-1,{REGION}")
    with pytest.raises(ValueError, match="twice"):
        placement(REGION, "us-east-1,us-east-1")
    assert placement(REGION, "").replicas == ()
    assert placement(REGION, " us-east-1 , ap-southeast-2 ").regions == (
        REGION,
        "us-east-1",
        "ap-southeast-2",
    )


def test_each_region_needs_its_own_certificate_and_origin_name() -> None:
    where = placement(REGION, "us-east-1")
    both = f"{certificate_in(REGION)},{certificate_in('us-east-1')}"
    assert certificate_for("us-east-1", both, where) == certificate_in("us-east-1")
    with pytest.raises(ValueError, match="one ACM certificate in us-east-1"):
        certificate_for("us-east-1", certificate_in(REGION), where)
    assert origin_for("us-east-1", "o.{region}.example", where) == "o.us-east-1.example"
    with pytest.raises(ValueError, match="originDomain"):
        origin_for("us-east-1", "origin.example", where)
    # One region: the certificate and the name as given, as before.
    alone = placement(REGION, None)
    assert certificate_for(REGION, certificate_in(REGION), alone) == certificate_in(REGION)
    assert origin_for(REGION, "origin.example", alone) == "origin.example"
