"""The web service: Fargate tasks behind an internet-facing Application Load Balancer, scaled
by target tracking on CPU and on requests per task.

The target group checks liveness (`/healthz`), not readiness: during a DynamoDB or Redis
outage every task's /readyz is 503, and an ALB that marked them all unhealthy would have ECS
replace them in a loop while they could still serve cached copies. `/metrics` is answered 404
by the load balancer itself: the metrics are for the stage's own collector, not the internet.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_s3 as s3
from constructs import Construct

from service.aws.infra.cache import Cache
from service.aws.infra.logbuckets import log_bucket
from service.aws.infra.network import SERVICE_PORT, Network
from service.aws.infra.parameters import Parameters
from service.aws.infra.signup import Issuer
from service.aws.infra.stage import Stage
from service.aws.infra.tasks import (
    LIVENESS,
    Tasks,
    add_service_container,
    service_environment,
)

# Target tracking: half the CPU, or this many requests a minute per task, whichever asks for
# more tasks. A cached read costs ~100-120 µs of CPU (docs/deploy.md), so one vCPU serves
# thousands a second; 30,000 a minute (500/s) leaves room for misses and writes.
CPU_TARGET_PERCENT = 50
REQUESTS_PER_TASK_PER_MINUTE = 30_000
# ECS deregisters a task from the target group before it sends SIGTERM.
DEREGISTRATION_DELAY = Duration.seconds(15)
_NOT_FOUND = '{"type":"about:blank","title":"Not Found","status":404}'


@dataclass(frozen=True, slots=True)
class Web:
    balancer: elbv2.ApplicationLoadBalancer
    target_group: elbv2.ApplicationTargetGroup
    service: ecs.FargateService
    logs: s3.Bucket


def _listeners(
    balancer: elbv2.ApplicationLoadBalancer,
    target_group: elbv2.ApplicationTargetGroup,
    certificate_arn: str | None,
) -> None:
    if certificate_arn is None:
        # Dev without a certificate: plain HTTP on port 80.
        front = balancer.add_listener(
            "Http", port=80, open=False, default_target_groups=[target_group]
        )
    else:
        front = balancer.add_listener(
            "Https",
            port=443,
            open=False,
            certificates=[elbv2.ListenerCertificate.from_arn(certificate_arn)],
            ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS,
            default_target_groups=[target_group],
        )
        balancer.add_listener(
            "Http",
            port=80,
            open=False,
            default_action=elbv2.ListenerAction.redirect(
                protocol="HTTPS", port="443", permanent=True
            ),
        )
    front.add_action(
        "NoMetrics",
        priority=1,
        conditions=[elbv2.ListenerCondition.path_patterns(["/metrics", "/metrics/*"])],
        action=elbv2.ListenerAction.fixed_response(
            404, content_type="application/json", message_body=_NOT_FOUND
        ),
    )


def web(
    scope: Construct,
    stage: Stage,
    *,
    network: Network,
    tasks: Tasks,
    cache: Cache,
    issuer: Issuer,
    table: str,
    parameters: Parameters,
    certificate_arn: str | None,
) -> Web:
    logs = log_bucket(
        scope, "AccessLogs", stage, ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED
    )
    balancer = elbv2.ApplicationLoadBalancer(
        scope,
        "Balancer",
        vpc=network.vpc,
        internet_facing=True,
        security_group=network.balancer,
        drop_invalid_header_fields=True,
    )
    balancer.log_access_logs(logs)
    definition = ecs.FargateTaskDefinition(
        scope,
        "WebTask",
        cpu=stage.task_cpu,
        memory_limit_mib=stage.task_memory_mib,
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
            table=table, issuer=issuer, parameters=parameters, streams=False
        ),
        workers=stage.workers,
        parameters=parameters,
        log_prefix="web",
    )
    service = ecs.FargateService(
        scope,
        "WebService",
        cluster=tasks.cluster,
        task_definition=definition,
        desired_count=stage.min_tasks,
        min_healthy_percent=100,
        max_healthy_percent=200,
        circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
        vpc_subnets=network.private,
        security_groups=[network.service],
        assign_public_ip=False,
        health_check_grace_period=Duration.seconds(30),
        # Fargate is billed by task: tags on the tasks make its cost show by stage and feature.
        propagate_tags=ecs.PropagatedTagSource.SERVICE,
        enable_ecs_managed_tags=True,
    )
    target_group = elbv2.ApplicationTargetGroup(
        scope,
        "WebTargets",
        vpc=network.vpc,
        port=SERVICE_PORT,
        protocol=elbv2.ApplicationProtocol.HTTP,
        target_type=elbv2.TargetType.IP,
        targets=[service],
        deregistration_delay=DEREGISTRATION_DELAY,
        health_check=elbv2.HealthCheck(
            path=LIVENESS,
            healthy_http_codes="200",
            interval=Duration.seconds(10),
            timeout=Duration.seconds(3),
            healthy_threshold_count=2,
            unhealthy_threshold_count=3,
        ),
    )
    _listeners(balancer, target_group, certificate_arn)
    scaling = service.auto_scale_task_count(
        min_capacity=stage.min_tasks, max_capacity=stage.max_tasks
    )
    scaling.scale_on_cpu_utilization(
        "Cpu",
        target_utilization_percent=CPU_TARGET_PERCENT,
        scale_in_cooldown=Duration.seconds(300),
        scale_out_cooldown=Duration.seconds(60),
    )
    scaling.scale_on_request_count(
        "Requests",
        requests_per_target=REQUESTS_PER_TASK_PER_MINUTE,
        target_group=target_group,
        scale_in_cooldown=Duration.seconds(300),
        scale_out_cooldown=Duration.seconds(60),
    )
    return Web(balancer=balancer, target_group=target_group, service=service, logs=logs)
