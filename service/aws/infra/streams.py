"""The stage's one reader of the table's stream in each region: a `hustlehub serve` task that
takes no traffic and runs the stream consumer (`service/streams`), and beside it the CloudWatch
agent, which publishes the consumer's lag to CloudWatch for the alarm.

One reader, not one per web task: its invalidations reach every web task through Redis, and
DynamoDB Streams throttles more than two readers of a shard, which autoscaling would exceed.
With replica regions each region's reader reads its own replica's stream, which carries the
writes replicated from the other regions too, and invalidates its own region's Redis.
ECS restarts it when it stops; it then reads from the shards' latest records (the default
HUSTLEHUB_STREAM_START_AT), and the cache's fresh TTL bounds what a gap leaves stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from service.aws.infra.cache import Cache
from service.aws.infra.network import SERVICE_PORT, Network
from service.aws.infra.parameters import Parameters
from service.aws.infra.signup import Issuer
from service.aws.infra.stage import Stage
from service.aws.infra.tasks import Tasks, add_service_container, service_environment

# Pinned: a new agent is a deliberate change (docs/deploy.md says how to move it).
AGENT_IMAGE = "public.ecr.aws/cloudwatch-agent/cloudwatch-agent:1.300062.0b1304"
LAG_METRIC = "hustlehub_stream_lag_seconds"
SCRAPE_JOB = "hustlehub"


def namespace(stage: Stage) -> str:
    return f"HustleHub/{stage.name}"


@dataclass(frozen=True, slots=True)
class Streams:
    service: ecs.FargateService
    # Also what one-off commands run as (`aws ecs run-task`, docs/deploy.md): the service's
    # image and settings, no traffic.
    definition: ecs.FargateTaskDefinition
    metrics_log_group: logs.LogGroup


def _scrape_config() -> dict[str, Any]:
    # One target: the consumer's own /metrics on the task's loopback. Every series but the lag
    # is dropped at the scrape, so CloudWatch ingests (and bills) one metric.
    return {
        "global": {"scrape_interval": "1m", "scrape_timeout": "10s"},
        "scrape_configs": [
            {
                "job_name": SCRAPE_JOB,
                "static_configs": [{"targets": [f"127.0.0.1:{SERVICE_PORT}"]}],
                "metric_relabel_configs": [
                    {"source_labels": ["__name__"], "regex": LAG_METRIC, "action": "keep"}
                ],
            }
        ],
    }


def _agent_config(stage: Stage, cluster: str, log_group: str) -> dict[str, Any]:
    return {
        "logs": {
            "metrics_collected": {
                "prometheus": {
                    "cluster_name": cluster,
                    "log_group_name": log_group,
                    "prometheus_config_path": "env:PROMETHEUS_CONFIG_CONTENT",
                    "emf_processor": {
                        "metric_namespace": namespace(stage),
                        "metric_unit": {LAG_METRIC: "Seconds"},
                        "metric_declaration": [
                            {
                                "source_labels": ["job"],
                                "label_matcher": f"^{SCRAPE_JOB}$",
                                "dimensions": [["job"]],
                                "metric_selectors": [f"^{LAG_METRIC}$"],
                            }
                        ],
                    },
                }
            },
            "force_flush_interval": 5,
        }
    }


def streams(
    scope: Construct,
    stage: Stage,
    *,
    network: Network,
    tasks: Tasks,
    cache: Cache,
    issuer: Issuer,
    table: str,
    parameters: Parameters,
) -> Streams:
    metrics_log_group = logs.LogGroup(scope, "StreamMetrics", retention=logs.RetentionDays.ONE_WEEK)
    tasks.task_role.attach_inline_policy(
        iam.Policy(
            scope,
            "MetricsAgent",
            statements=[
                iam.PolicyStatement(
                    sid="LagMetric",
                    actions=[
                        "logs:CreateLogStream",
                        "logs:DescribeLogStreams",
                        "logs:PutLogEvents",
                    ],
                    resources=[metrics_log_group.log_group_arn],
                )
            ],
        )
    )
    definition = ecs.FargateTaskDefinition(
        scope,
        "StreamsTask",
        cpu=256,
        memory_limit_mib=512,
        runtime_platform=ecs.RuntimePlatform(
            cpu_architecture=ecs.CpuArchitecture.ARM64,
            operating_system_family=ecs.OperatingSystemFamily.LINUX,
        ),
        task_role=tasks.task_role,
        execution_role=tasks.execution_role,
    )
    add_service_container(
        definition,
        tasks,
        cache,
        environment=service_environment(
            table=table, issuer=issuer, parameters=parameters, streams=True
        ),
        workers=1,
        parameters=parameters,
        log_prefix="streams",
    )
    stack = Stack.of(scope)
    definition.add_container(
        "metrics-agent",
        image=ecs.ContainerImage.from_registry(AGENT_IMAGE),
        # Not essential: the consumer keeps running if the agent stops.
        essential=False,
        memory_reservation_mib=64,
        environment={
            "CW_CONFIG_CONTENT": stack.to_json_string(
                _agent_config(stage, tasks.cluster.cluster_name, metrics_log_group.log_group_name)
            ),
            "PROMETHEUS_CONFIG_CONTENT": stack.to_json_string(_scrape_config()),
        },
        logging=ecs.LogDrivers.aws_logs(stream_prefix="agent", log_group=tasks.log_group),
    )
    service = ecs.FargateService(
        scope,
        "StreamsService",
        cluster=tasks.cluster,
        task_definition=definition,
        desired_count=1,
        # A rolling update starts the new reader before it stops the old: two readers of a
        # shard for a moment, which DynamoDB allows.
        min_healthy_percent=100,
        max_healthy_percent=200,
        circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
        vpc_subnets=network.private,
        security_groups=[network.service],
        assign_public_ip=False,
        propagate_tags=ecs.PropagatedTagSource.SERVICE,
        enable_ecs_managed_tags=True,
    )
    return Streams(service=service, definition=definition, metrics_log_group=metrics_log_group)
