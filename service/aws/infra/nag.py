"""cdk-nag's AwsSolutions findings this stack accepts, each on the construct it concerns and
with its reason. Anything else cdk-nag finds fails the synthesis (`app.checked`); a path here
that names no construct fails it too, so the list cannot outlive what it excuses."""

from __future__ import annotations

from collections.abc import Callable

from aws_cdk import Acknowledgment, Stack, Validations
from constructs import IConstruct

from service.aws.infra.regions import partition
from service.aws.infra.stage import Stage

# (construct path under the stack, finding, reason)
ACCEPTED: tuple[tuple[str, str, str], ...] = (
    (
        "Network/BalancerSecurityGroup",
        "AwsSolutions-EC23",
        "The internet-facing load balancer of a public API: ports 80 and 443 only, from anyone.",
    ),
    (
        "Api/CursorSecret",
        "AwsSolutions-SMG4",
        "The service signs and verifies cursors with one key, not a key ring: a rotation would"
        " void every cursor clients hold. It is changed deliberately (docs/deploy.md).",
    ),
    (
        "Cache/RedisAuthToken",
        "AwsSolutions-SMG4",
        "ElastiCache changes an AUTH token through ModifyReplicationGroup (ROTATE, then SET),"
        " which a Secrets Manager rotation does not drive; the port admits only the tasks.",
    ),
    (
        "Cache/RedisUrl",
        "AwsSolutions-SMG4",
        "Derived at deploy from the AUTH token and the cluster's endpoint; it changes with them.",
    ),
    (
        "Cache/Redis",
        "AwsSolutions-AEC5",
        "The port is no secret: the cache's security group admits only the service's tasks, and"
        " a non-default port would add obscurity, not protection.",
    ),
    (
        "Signup/PostConfirmationRole",
        "AwsSolutions-IAM5[Resource::*]",
        "Two kinds of action that IAM cannot scope to a resource: the network interfaces of a"
        " function attached to a VPC, and X-Ray's PutTraceSegments/PutTelemetryRecords.",
    ),
    (
        "Api/ServiceExecutionRole",
        "AwsSolutions-IAM5[Resource::*]",
        "ecr:GetAuthorizationToken, which IAM grants on * only; pulling is limited to the"
        " assets repository.",
    ),
    (
        "Signup/PostConfirmationFailures",
        "AwsSolutions-SQS3",
        "It is the end of the line itself: the trigger's failure destination.",
    ),
    (
        "Signup/UserPool",
        "AwsSolutions-COG1",
        "NIST SP 800-63B: length, not composition. Twelve characters with upper and lower case"
        " and a digit; a symbol is not required.",
    ),
    (
        "Signup/UserPool",
        "AwsSolutions-COG2",
        "The design guide has MFA optional: a directory's users choose; TOTP is offered.",
    ),
    (
        "Api/AccessLogs",
        "AwsSolutions-S1",
        "The load balancer's access-log bucket: logging its own accesses would need another"
        " bucket, whose accesses would need a third.",
    ),
    (
        "Api/CdnLogs",
        "AwsSolutions-S1",
        "CloudFront's access-log bucket: as the load balancer's, logging its own accesses would"
        " need another bucket.",
    ),
    (
        "Api/Cdn",
        "AwsSolutions-CFR1",
        "A public directory, read from anywhere: no country is refused.",
    ),
    (
        "Api/Cdn",
        "AwsSolutions-CFR2",
        "A web ACL for CloudFront is created in us-east-1, outside a regional stack; not deployed"
        " yet (docs/deploy.md). The service refuses malformed input with a cheap 4xx.",
    ),
    (
        "Api/Cdn",
        "AwsSolutions-CFR4",
        "Served on the distribution's own cloudfront.net name, whose default certificate AWS"
        " fixes at TLSv1; a site name with its own us-east-1 certificate would set TLSv1.2_2021"
        " (docs/deploy.md).",
    ),
    (
        "Api/WebTask",
        "AwsSolutions-ECS2",
        "Its plain variables are settings that are not secret (table, pool, phase); the cursor"
        " secret, the Redis URL and the legacy DSN come through ECS secrets.",
    ),
    (
        "Streams/StreamsTask",
        "AwsSolutions-ECS2",
        "As the web task's; the metrics agent's two variables are its configuration.",
    ),
)

# What a stage may give up to cost less, and when it does.
ACCEPTED_WHEN: tuple[tuple[str, str, str, Callable[[Stage], bool]], ...] = (
    (
        "Cache/Redis",
        "AwsSolutions-AEC4",
        "A stage without Redis replicas (dev) runs one node per shard in one zone; production"
        " has a replica of each shard in another zone.",
        lambda stage: stage.redis_replicas == 0,
    ),
    (
        "Signup/UserPool",
        "AwsSolutions-COG8",
        "A stage without threat protection (dev) is on Cognito's Essentials plan, Plus being"
        " priced per active user; production is on Plus with threat protection enforced.",
        lambda stage: not stage.threat_protection,
    ),
    (
        "Api/Cdn",
        "AwsSolutions-CFR5",
        "A stage that may run without a certificate (dev) has a load balancer on plain HTTP, so"
        " the edge reaches it over HTTP; production reaches its origin over HTTPS, TLSv1.2 only.",
        lambda stage: not stage.production,
    ),
)


# What a replica region's stack does not hold (the sign-up pieces exist once, `stack.py`).
_PRIMARY_ONLY = ("Signup/",)


def _replica_stream(stage: Stage, region: str) -> tuple[str, str, str]:
    table = f"arn:{partition(region)}:dynamodb:{region}:<AWS::AccountId>:table/{stage.table_name}"
    return (
        "Api/ServiceTaskRole",
        f"AwsSolutions-IAM5[Resource::{table}/stream/*]",
        "The streams of the one table in this region: a replica's stream label is known only"
        " once the primary's stack has made it, and the consumer reads it from DescribeTable.",
    )


def accepted(stage: Stage, *, replica_in: str | None = None) -> tuple[tuple[str, str, str], ...]:
    """The findings `stage` accepts in its primary stack, or in its stack of the replica region
    `replica_in`: (construct path, finding, reason)."""
    found = ACCEPTED + tuple((p, f, r) for p, f, r, when in ACCEPTED_WHEN if when(stage))
    if replica_in is None:
        return found
    kept = tuple(a for a in found if not a[0].startswith(_PRIMARY_ONLY))
    return (*kept, _replica_stream(stage, replica_in))


def _at(stack: Stack, path: str) -> IConstruct:
    found: IConstruct = stack
    for part in path.split("/"):
        child = found.node.try_find_child(part)
        if child is None:
            raise LookupError(f"{stack.stack_name}: no construct at {path} to acknowledge")
        found = child
    return found


def suppress(stack: Stack, stage: Stage, *, replica_in: str | None = None) -> None:
    for path, finding, reason in accepted(stage, replica_in=replica_in):
        Validations.of(_at(stack, path)).acknowledge(
            Acknowledgment(id=f"AwsSolutions::{finding}", reason=reason)
        )
