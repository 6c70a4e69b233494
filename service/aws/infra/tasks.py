"""What runs `hustlehub serve` on Fargate: the images, the roles, the settings, a task
definition for each of the two services (`web.py`, `streams.py`).

One image per phase group, built from the repo's Dockerfile by `cdk deploy`: its `runtime`
target (no extras) in dynamodb-only, its `migration` target (asyncpg) in the legacy phases;
the MigrationPhase parameter picks one, so a phase switch is a deploy. Settings are the
HUSTLEHUB_* variables of `service/config.py`; the three that are secrets come from Secrets
Manager through ECS `secrets` (the agent resolves them at the task's start), never as plain
environment variables.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Aws, Duration, Fn, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from service.aws.iam import SERVICE_ACTIONS, STREAM_ACTIONS
from service.aws.infra.cache import Cache
from service.aws.infra.network import SERVICE_PORT
from service.aws.infra.parameters import Parameters, legacy_dsn_reader
from service.aws.infra.signup import LEGACY_DSN, Issuer
from service.aws.infra.stage import Stage
from service.store.schema import index_names

CONTAINER = "service"
# Liveness, not readiness: /readyz is 503 while DynamoDB or Redis is unreachable, and a task
# replaced for that would lose the in-process copies that stale-if-error serves meanwhile.
LIVENESS = "/healthz"
# What the image need not carry: caches, build output, the CDK's own output and packages.
_NOT_IN_CONTEXT = [
    "build",
    "cdk.out",
    "**/node_modules",
    ".hypothesis",
    ".schemathesis",
    "schemathesis-report",
    "*.egg-info",
]
_PROBE = (
    "import urllib.request; urllib.request.urlopen("
    f"'http://127.0.0.1:{SERVICE_PORT}{LIVENESS}', timeout=2)"
)


@dataclass(frozen=True, slots=True)
class Images:
    runtime: ecr_assets.DockerImageAsset
    migration: ecr_assets.DockerImageAsset


@dataclass(frozen=True, slots=True)
class Tasks:
    cluster: ecs.Cluster
    task_role: iam.Role
    execution_role: iam.Role
    log_group: logs.LogGroup
    images: Images
    cursor_secret: secretsmanager.Secret


def images(scope: Construct, repo: Path) -> Images:
    def build(name: str, target: str) -> ecr_assets.DockerImageAsset:
        return ecr_assets.DockerImageAsset(
            scope,
            name,
            directory=str(repo),
            file="Dockerfile",
            target=target,
            platform=ecr_assets.Platform.LINUX_ARM64,
            exclude=_NOT_IN_CONTEXT,
        )

    return Images(
        runtime=build("RuntimeImage", "runtime"), migration=build("MigrationImage", "migration")
    )


def _task_role(scope: Construct, table_arn: str, stream_arn: str, stage: Stage) -> iam.Role:
    indexes = [f"{table_arn}/index/{name}" for name in index_names(stage.table_name)]
    return iam.Role(
        scope,
        "ServiceTaskRole",
        description="Hustle Hub service: its table, index and stream, the calls it makes",
        assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
        inline_policies={
            "directory": iam.PolicyDocument(
                statements=[
                    iam.PolicyStatement(
                        sid="DirectoryTable",
                        actions=list(SERVICE_ACTIONS),
                        resources=[table_arn, *indexes],
                    ),
                    iam.PolicyStatement(
                        sid="DirectoryTableStream",
                        actions=list(STREAM_ACTIONS),
                        resources=[stream_arn],
                    ),
                ]
            )
        },
    )


def tasks(
    scope: Construct,
    stage: Stage,
    *,
    vpc: ec2.IVpc,
    table_arn: str,
    stream_arn: str,
    parameters: Parameters,
    repo: Path,
) -> Tasks:
    cluster = ecs.Cluster(
        scope, "Cluster", vpc=vpc, container_insights_v2=ecs.ContainerInsights.ENABLED
    )
    execution_role = iam.Role(
        scope,
        "ServiceExecutionRole",
        description="Hustle Hub tasks' start: pull the image, read the secrets, write logs",
        assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
    )
    legacy_dsn_reader(scope, "ServiceLegacyDsn", execution_role, parameters)
    cursor = secretsmanager.Secret(
        scope,
        "CursorSecret",
        description=f"Hustle Hub {stage.name}: HUSTLEHUB_CURSOR_SECRET (pagination cursors' key)",
        generate_secret_string=secretsmanager.SecretStringGenerator(
            password_length=64, exclude_punctuation=True
        ),
    )
    log_group = logs.LogGroup(
        scope,
        "ServiceLogs",
        retention=stage.log_retention,
        removal_policy=RemovalPolicy.DESTROY,
    )
    built = images(scope, repo)
    # The image the container names is granted when it is bound; the other one too, for the
    # phase that picks it.
    built.migration.repository.grant_pull(execution_role)
    return Tasks(
        cluster=cluster,
        task_role=_task_role(scope, table_arn, stream_arn, stage),
        execution_role=execution_role,
        log_group=log_group,
        images=built,
        cursor_secret=cursor,
    )


def service_environment(
    *, table: str, issuer: Issuer, parameters: Parameters, streams: bool
) -> dict[str, str]:
    return {
        "HUSTLEHUB_MODE": "production",
        "HUSTLEHUB_HOST": "0.0.0.0",  # noqa: S104 - the task's own interface, behind the ALB
        "HUSTLEHUB_PORT": str(SERVICE_PORT),
        "HUSTLEHUB_AWS_REGION": Aws.REGION,
        "HUSTLEHUB_TABLE_NAME": table,
        "HUSTLEHUB_REDIS_CLUSTER": "true",
        "HUSTLEHUB_COGNITO_REGION": issuer.region,
        "HUSTLEHUB_COGNITO_USER_POOL_ID": issuer.user_pool_id,
        "HUSTLEHUB_COGNITO_APP_CLIENT_IDS": issuer.client_id,
        # One reader of the stream for the whole stage in each region (`streams.py`): its
        # invalidations reach every instance through that region's Redis, and DynamoDB
        # throttles a third reader of a shard.
        "HUSTLEHUB_STREAM_INVALIDATION": "true" if streams else "false",
        "HUSTLEHUB_MIGRATION__PHASE": parameters.phase.value_as_string,
    }


def add_service_container(
    definition: ecs.FargateTaskDefinition,
    tasks: Tasks,
    cache: Cache,
    *,
    environment: dict[str, str],
    workers: int,
    parameters: Parameters,
    log_prefix: str,
) -> ecs.ContainerDefinition:
    definition.add_volume(name="tmp")
    # The first container of the definition: `_follow_the_phase` overrides it by index.
    container = definition.add_container(
        CONTAINER,
        image=ecs.ContainerImage.from_docker_image_asset(tasks.images.runtime),
        command=["serve", "--workers", str(workers)],
        port_mappings=[ecs.PortMapping(container_port=SERVICE_PORT)],
        environment=environment,
        secrets={
            "HUSTLEHUB_CURSOR_SECRET": ecs.Secret.from_secrets_manager(tasks.cursor_secret),
            "HUSTLEHUB_REDIS_URL": ecs.Secret.from_secrets_manager(cache.url),
        },
        logging=ecs.LogDrivers.aws_logs(stream_prefix=log_prefix, log_group=tasks.log_group),
        health_check=ecs.HealthCheck(
            command=["CMD", "python", "-c", _PROBE],
            interval=Duration.seconds(10),
            timeout=Duration.seconds(3),
            retries=3,
            start_period=Duration.seconds(15),
        ),
        readonly_root_filesystem=True,
        # SIGTERM: readiness goes 503, drain (5 s), in-flight requests get SHUTDOWN_GRACE_S (10 s).
        stop_timeout=Duration.seconds(30),
    )
    # `serve --workers N` keeps prometheus' multiprocess files in a temporary directory.
    container.add_mount_points(
        ecs.MountPoint(container_path="/tmp", source_volume="tmp", read_only=False)  # noqa: S108
    )
    _follow_the_phase(definition, tasks, parameters)
    return container


def _follow_the_phase(
    definition: ecs.FargateTaskDefinition, tasks: Tasks, parameters: Parameters
) -> None:
    # CDK has no conditional image or secret; CloudFormation has, through the overrides.
    cfn = definition.node.default_child
    assert isinstance(cfn, ecs.CfnTaskDefinition)
    legacy = parameters.uses_legacy.logical_id
    cfn.add_property_override(
        "ContainerDefinitions.0.Image",
        Fn.condition_if(
            legacy,
            tasks.images.migration.image_uri,
            tasks.images.runtime.image_uri,
        ),
    )
    cfn.add_property_override(
        "ContainerDefinitions.0.Secrets.2",
        Fn.condition_if(
            legacy,
            {"Name": LEGACY_DSN, "ValueFrom": parameters.legacy_dsn_secret_arn.value_as_string},
            Aws.NO_VALUE,
        ),
    )
