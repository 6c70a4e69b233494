"""ElastiCache for Redis with cluster mode enabled, what `HUSTLEHUB_REDIS_CLUSTER=true` runs on.

Encrypted at rest and in transit (TLS required, hence `rediss://`), with an AUTH token that
Secrets Manager generates. The service takes one setting, `HUSTLEHUB_REDIS_URL`, and the token
is part of it, so the URL itself is a secret: composed here from the token and the cluster's
configuration endpoint, and handed to the tasks through ECS `secrets`, never as plain text.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Fn, SecretValue
from aws_cdk import aws_elasticache as elasticache
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from service.aws.infra.network import REDIS_PORT, Network
from service.aws.infra.stage import Stage

ENGINE_VERSION = "7.1"
# Cluster mode on: the parameter group decides it for an engine family.
PARAMETER_GROUP = "default.redis7.cluster.on"


@dataclass(frozen=True, slots=True)
class Cache:
    group: elasticache.CfnReplicationGroup
    url: secretsmanager.Secret
    auth_token: secretsmanager.Secret


def redis_cluster(scope: Construct, stage: Stage, network: Network) -> Cache:
    token = secretsmanager.Secret(
        scope,
        "RedisAuthToken",
        description=f"Hustle Hub {stage.name}: the Redis AUTH token",
        # AUTH tokens are 16-128 printable characters without @, " or /; letters and digits
        # also keep the URL free of characters it would have to escape.
        generate_secret_string=secretsmanager.SecretStringGenerator(
            password_length=64, exclude_punctuation=True
        ),
    )
    subnets = elasticache.CfnSubnetGroup(
        scope,
        "RedisSubnets",
        description=f"Hustle Hub {stage.name}: Redis in the private subnets",
        subnet_ids=network.vpc.select_subnets(subnet_type=network.private.subnet_type).subnet_ids,
    )
    group = elasticache.CfnReplicationGroup(
        scope,
        "Redis",
        replication_group_description=f"Hustle Hub {stage.name} cache (cluster mode)",
        engine="redis",
        engine_version=ENGINE_VERSION,
        cache_parameter_group_name=PARAMETER_GROUP,
        cluster_mode="enabled",
        cache_node_type=stage.redis_node_type,
        num_node_groups=stage.redis_shards,
        replicas_per_node_group=stage.redis_replicas,
        # Required with cluster mode enabled; without replicas it has nothing to promote.
        automatic_failover_enabled=True,
        multi_az_enabled=stage.redis_replicas > 0,
        at_rest_encryption_enabled=True,
        transit_encryption_enabled=True,
        transit_encryption_mode="required",
        auth_token=token.secret_value.unsafe_unwrap(),
        port=REDIS_PORT,
        cache_subnet_group_name=subnets.ref,
        security_group_ids=[network.cache.security_group_id],
        snapshot_retention_limit=1 if stage.production else 0,
        auto_minor_version_upgrade=True,
    )
    url = secretsmanager.Secret(
        scope,
        "RedisUrl",
        description=f"Hustle Hub {stage.name}: HUSTLEHUB_REDIS_URL (TLS, the AUTH token)",
        secret_string_value=SecretValue.unsafe_plain_text(
            Fn.join(
                "",
                [
                    "rediss://:",
                    token.secret_value.unsafe_unwrap(),
                    "@",
                    group.attr_configuration_end_point_address,
                    ":",
                    group.attr_configuration_end_point_port,
                ],
            )
        ),
    )
    return Cache(group=group, url=url, auth_token=token)
