"""The service on Fargate as synthesised: its settings and secrets, its images, the load
balancer in front of it, its scaling, and the one stream consumer."""

from __future__ import annotations

import json
from typing import Any

from service.aws.infra.parameters import PHASES
from service.aws.infra.stage import Stage
from service.aws.infra.streams import LAG_METRIC
from service.aws.infra.web import CPU_TARGET_PERCENT, REQUESTS_PER_TASK_PER_MINUTE
from tests.infra.synth import STAGES, Synthesised, Template, one, props, resources

SECRETS = {"HUSTLEHUB_CURSOR_SECRET", "HUSTLEHUB_REDIS_URL", "HUSTLEHUB_MIGRATION__LEGACY_DSN"}


def container(template: Template, task: str) -> dict[str, Any]:
    definitions = props(template, "AWS::ECS::TaskDefinition", task)["ContainerDefinitions"]
    (found,) = [d for d in definitions if d["Name"] == "service"]
    return dict(found)


def environment(definition: dict[str, Any]) -> dict[str, Any]:
    return {pair["Name"]: pair["Value"] for pair in definition["Environment"]}


@STAGES
def test_secrets_come_from_secrets_manager_never_from_plain_variables(
    synthesised: Synthesised, stage: Stage
) -> None:
    template = synthesised.of(stage)
    cursor, _ = one(template, "AWS::SecretsManager::Secret", "CursorSecret")
    url, _ = one(template, "AWS::SecretsManager::Secret", "RedisUrl")
    for task in ("WebTask", "StreamsTask"):
        definition = container(template, task)
        assert not SECRETS & set(environment(definition))
        always, conditional = definition["Secrets"][:2], definition["Secrets"][2]
        assert always == [
            {"Name": "HUSTLEHUB_CURSOR_SECRET", "ValueFrom": {"Ref": cursor}},
            {"Name": "HUSTLEHUB_REDIS_URL", "ValueFrom": {"Ref": url}},
        ]
        # The legacy DSN only in the legacy phases, from the secret the parameter names.
        assert conditional == {
            "Fn::If": [
                "UsesLegacy",
                {
                    "Name": "HUSTLEHUB_MIGRATION__LEGACY_DSN",
                    "ValueFrom": {"Ref": "LegacyDsnArn"},
                },
                {"Ref": "AWS::NoValue"},
            ]
        }
    # ... and nothing that looks like one is written out anywhere in the template.
    text = json.dumps(template)
    assert "postgresql://" not in text
    assert "dev-only-cursor-secret" not in text


@STAGES
def test_the_settings_are_the_services_variables(synthesised: Synthesised, stage: Stage) -> None:
    template = synthesised.of(stage)
    table, _ = one(template, "AWS::DynamoDB::Table")
    pool, _ = one(template, "AWS::Cognito::UserPool")
    client, _ = one(template, "AWS::Cognito::UserPoolClient")
    web = environment(container(template, "WebTask"))
    assert web == {
        "HUSTLEHUB_MODE": "production",
        "HUSTLEHUB_HOST": "0.0.0.0",
        "HUSTLEHUB_PORT": "8080",
        "HUSTLEHUB_AWS_REGION": {"Ref": "AWS::Region"},
        "HUSTLEHUB_TABLE_NAME": {"Ref": table},
        "HUSTLEHUB_REDIS_CLUSTER": "true",
        "HUSTLEHUB_COGNITO_REGION": {"Ref": "AWS::Region"},
        "HUSTLEHUB_COGNITO_USER_POOL_ID": {"Ref": pool},
        "HUSTLEHUB_COGNITO_APP_CLIENT_IDS": {"Ref": client},
        "HUSTLEHUB_STREAM_INVALIDATION": "false",
        "HUSTLEHUB_MIGRATION__PHASE": {"Ref": "MigrationPhase"},
    }
    # The one reader of the stream differs only there.
    streams = environment(container(template, "StreamsTask"))
    assert streams == {**web, "HUSTLEHUB_STREAM_INVALIDATION": "true"}
    assert container(template, "WebTask")["Command"] == ["serve", "--workers", str(stage.workers)]


def test_the_phase_parameter_offers_the_three_phases(synthesised: Synthesised) -> None:
    for template in synthesised.templates.values():
        phase = template["Parameters"]["MigrationPhase"]
        assert (phase["Default"], set(phase["AllowedValues"])) == ("dynamodb-only", set(PHASES))
        assert set(PHASES) == {"dual-write", "dual-read", "dynamodb-only"}
        (assertion,) = template["Rules"]["LegacyPhaseNeedsDsn"]["Assertions"]
        assert assertion["Assert"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "LegacyDsnArn"}, ""]}]}


@STAGES
def test_the_phase_picks_the_image_with_asyncpg_or_the_one_without(
    synthesised: Synthesised, stage: Stage
) -> None:
    template = synthesised.of(stage)
    manifest = json.loads((synthesised.outdir / f"{stage.stack_name}.assets.json").read_text())
    targets = {
        h: image["source"]["dockerBuildTarget"] for h, image in manifest["dockerImages"].items()
    }
    for task in ("WebTask", "StreamsTask"):
        condition, legacy, current = container(template, task)["Image"]["Fn::If"]
        assert condition == "UsesLegacy"
        built = [targets[image["Fn::Sub"].rsplit(":", 1)[1]] for image in (legacy, current)]
        assert built == ["migration", "runtime"]
    for image in manifest["dockerImages"].values():
        assert image["source"]["platform"] == "linux/arm64"
    for definition in resources(template, "AWS::ECS::TaskDefinition").values():
        assert definition["Properties"]["RuntimePlatform"]["CpuArchitecture"] == "ARM64"


@STAGES
def test_health_is_liveness_everywhere_never_readiness(
    synthesised: Synthesised, stage: Stage
) -> None:
    template = synthesised.of(stage)
    group = props(template, "AWS::ElasticLoadBalancingV2::TargetGroup")
    assert (group["HealthCheckPath"], group["Matcher"]) == ("/healthz", {"HttpCode": "200"})
    for task in ("WebTask", "StreamsTask"):
        probe = container(template, task)["HealthCheck"]["Command"]
        assert "/healthz" in probe[-1]
    assert "/readyz" not in json.dumps(template)


@STAGES
def test_the_load_balancer_is_public_logged_and_keeps_metrics_to_itself(
    synthesised: Synthesised, stage: Stage
) -> None:
    template = synthesised.of(stage)
    balancer = props(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    assert balancer["Scheme"] == "internet-facing"
    attributes = {a["Key"]: a["Value"] for a in balancer["LoadBalancerAttributes"]}
    assert attributes["access_logs.s3.enabled"] == "true"
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    (rule,) = resources(template, "AWS::ElasticLoadBalancingV2::ListenerRule").values()
    assert rule["Properties"]["Conditions"][0]["PathPatternConfig"]["Values"] == [
        "/metrics",
        "/metrics/*",
    ]
    assert rule["Properties"]["Actions"][0]["FixedResponseConfig"]["StatusCode"] == "404"
    listeners = {
        listener["Properties"]["Port"]: listener["Properties"]
        for listener in resources(template, "AWS::ElasticLoadBalancingV2::Listener").values()
    }
    if stage.production:
        assert listeners[443]["Protocol"] == "HTTPS"
        assert listeners[443]["SslPolicy"].startswith("ELBSecurityPolicy-TLS13")
        assert listeners[80]["DefaultActions"][0]["RedirectConfig"]["StatusCode"] == "HTTP_301"
    else:
        assert set(listeners) == {80}
        assert listeners[80]["DefaultActions"][0]["Type"] == "forward"


@STAGES
def test_the_web_service_scales_on_cpu_and_requests(synthesised: Synthesised, stage: Stage) -> None:
    template = synthesised.of(stage)
    target = props(template, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert (target["MinCapacity"], target["MaxCapacity"]) == (stage.min_tasks, stage.max_tasks)
    tracked = {
        policy["Properties"]["TargetTrackingScalingPolicyConfiguration"][
            "PredefinedMetricSpecification"
        ]["PredefinedMetricType"]: policy["Properties"]["TargetTrackingScalingPolicyConfiguration"][
            "TargetValue"
        ]
        for policy in resources(template, "AWS::ApplicationAutoScaling::ScalingPolicy").values()
    }
    assert tracked == {
        "ECSServiceAverageCPUUtilization": CPU_TARGET_PERCENT,
        "ALBRequestCountPerTarget": REQUESTS_PER_TASK_PER_MINUTE,
    }
    web = props(template, "AWS::ECS::Service", "Web")
    assert web["DesiredCount"] == stage.min_tasks
    assert web["DeploymentConfiguration"]["DeploymentCircuitBreaker"] == {
        "Enable": True,
        "Rollback": True,
    }
    assert web["NetworkConfiguration"]["AwsvpcConfiguration"]["AssignPublicIp"] == "DISABLED"


@STAGES
def test_one_task_reads_the_stream_and_reports_its_lag(
    synthesised: Synthesised, stage: Stage
) -> None:
    template = synthesised.of(stage)
    streams = props(template, "AWS::ECS::Service", "Streams")
    assert streams["DesiredCount"] == 1
    assert streams.get("LoadBalancers", []) == []
    # At most two readers of a shard at any moment: DynamoDB throttles a third.
    assert streams["DeploymentConfiguration"]["MaximumPercent"] == 200
    definitions = props(template, "AWS::ECS::TaskDefinition", "StreamsTask")["ContainerDefinitions"]
    (agent,) = [d for d in definitions if d["Name"] == "metrics-agent"]
    assert agent["Essential"] is False
    scrape = json.loads(environment(agent)["PROMETHEUS_CONFIG_CONTENT"])
    (job,) = scrape["scrape_configs"]
    assert job["static_configs"] == [{"targets": ["127.0.0.1:8080"]}]
    assert job["metric_relabel_configs"][0]["regex"] == LAG_METRIC
    config = "".join(
        part if isinstance(part, str) else "?"
        for part in environment(agent)["CW_CONFIG_CONTENT"]["Fn::Join"][1]
    )
    assert f'"metric_namespace":"HustleHub/{stage.name}"' in config
    assert f'"metric_selectors":["^{LAG_METRIC}$"]' in config
