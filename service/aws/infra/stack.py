"""The whole deployment of one stage as one stack: network, table, cache, sign-up, the web
service behind CloudFront and the stream consumer, alarms, budget. Each feature is built in a
scope of its own, which its cost-allocation tag is put on.

With replica regions (`regions.py`) the stage has one more stack per replica region, built by
the same class: everything that serves and invalidates in that region, but not what must exist
once (the table, which the primary's global table replicates there; the user pool and its
trigger, trusted from the primary region; the budget, over every region by the stage tag)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import CfnOutput, Environment, Fn, Stack
from constructs import Construct

from service.aws.infra import alarms, cache, cdn, monitoring, network, signup, streams, tasks, web
from service.aws.infra.parameters import declare
from service.aws.infra.regions import Placement
from service.aws.infra.signup import Issuer, Signup
from service.aws.infra.stage import Stage
from service.aws.infra.table import DirectoryTable, directory_table, replica_table
from service.aws.infra.tagging import tag_feature, tag_stack


@dataclass(frozen=True, slots=True)
class Sources:
    """What the stack is built from on disk."""

    repo: Path  # the Docker build context (the repository's root, its Dockerfile)
    lambda_package: Path  # `make lambda-package`'s zip


def stack_name(stage: Stage, region: str, where: Placement) -> str:
    """`HustleHub-<stage>` in the primary region, `HustleHub-<stage>-<region>` in a replica's."""
    return stage.stack_name if region == where.primary else f"{stage.stack_name}-{region}"


class HustleHubStack(Stack):
    def __init__(
        self,
        scope: Construct,
        stage: Stage,
        *,
        sources: Sources,
        region: str,
        certificate_arn: str | None,
        origin_domain: str | None = None,
        where: Placement | None = None,
        primary: HustleHubStack | None = None,
    ) -> None:
        where = where or Placement(primary=region)
        name = stack_name(stage, region, where)
        super().__init__(
            scope,
            name,
            stack_name=name,
            # The region is fixed at synthesis (the load balancer's access logs are granted to
            # a regional principal); the account is the deploying credentials'.
            env=Environment(region=region),
            description=f"Hustle Hub directory, stage {stage.name}: service, table, cache,"
            " sign-up, alarms (docs/deploy.md)"
            if primary is None
            else f"Hustle Hub directory, stage {stage.name}, replica region {region}: service,"
            f" cache, stream consumer, alarms; table and sign-up in {where.primary}"
            " (docs/deploy.md)",
            # A replica region's services trust the primary's user pool, whose ids CDK carries
            # across regions (an SSM parameter written in this region by the primary's stack).
            cross_region_references=primary is not None,
        )
        self.stage = stage
        self.users: Signup | None = None
        tag_stack(self, stage.name)
        parameters = declare(self, stage, primary=primary is None)

        def feature(name: str) -> Construct:
            part = Construct(self, name.capitalize())
            tag_feature(part, name)
            return part

        net = network.network(feature("network"), stage, parameters)
        table: DirectoryTable
        if primary is None:
            table = directory_table(feature("table"), stage, where)
        else:
            table = replica_table(self, stage)
            # Its replica of the table is the primary's global table's.
            self.add_stack_dependency(primary, f"the table's replica in {region} is made there")
        redis = cache.redis_cluster(feature("cache"), stage, net)
        issuer: Issuer
        if primary is None:
            self.users = signup.signup(
                feature("signup"),
                stage,
                table=table,
                network=net,
                parameters=parameters,
                package=sources.lambda_package,
            )
            issuer = self.users.issuer
        else:
            if primary.users is None:
                raise ValueError(f"{primary.stack_name} is a replica region's stack")
            issuer = Issuer(
                region=where.primary,
                user_pool_id=primary.users.pool.user_pool_id,
                client_id=primary.users.client.user_pool_client_id,
            )
        api = feature("api")
        runs = tasks.tasks(
            api,
            stage,
            vpc=net.vpc,
            table_arn=table.arn,
            stream_arn=table.stream_arn,
            parameters=parameters,
            repo=sources.repo,
        )
        front = web.web(
            api,
            stage,
            network=net,
            tasks=runs,
            cache=redis,
            issuer=issuer,
            table=table.name,
            parameters=parameters,
            certificate_arn=certificate_arn,
        )
        edge = cdn.cdn(api, stage, balancer=front.balancer, origin_domain=origin_domain)
        reader = streams.streams(
            feature("streams"),
            stage,
            network=net,
            tasks=runs,
            cache=redis,
            issuer=issuer,
            table=table.name,
            parameters=parameters,
        )
        watch = feature("monitoring")
        topic = monitoring.alarm_topic(watch, stage, parameters)
        if primary is None:
            monitoring.monthly_budget(watch, stage, parameters, topic)
        alarms.alarms(
            watch,
            stage,
            topic,
            table=table.name,
            balancer=front.balancer,
            target_group=front.target_group,
            trigger=None if self.users is None else self.users.function,
            replicates_to=where.others(region),
        )

        scheme = "http" if certificate_arn is None else "https"
        outputs = {
            "ApiUrl": (
                f"https://{edge.distribution_domain_name}",
                "The API behind CloudFront: what the web app calls",
            ),
            "ServiceUrl": (
                f"{scheme}://{front.balancer.load_balancer_dns_name}",
                "The load balancer: CloudFront's origin (point OriginDomain's DNS name here)",
            ),
            "TableName": (table.name, "HUSTLEHUB_TABLE_NAME"),
            "UserPoolId": (issuer.user_pool_id, "HUSTLEHUB_COGNITO_USER_POOL_ID"),
            "UserPoolClientId": (issuer.client_id, "HUSTLEHUB_COGNITO_APP_CLIENT_IDS"),
            "ClusterName": (runs.cluster.cluster_name, "Where one-off tasks run"),
            "OneOffTaskDefinition": (
                reader.definition.task_definition_arn,
                "What one-off commands run as: aws ecs run-task (docs/deploy.md)",
            ),
            "PrivateSubnets": (
                Fn.join(
                    ",", net.vpc.select_subnets(subnet_type=net.private.subnet_type).subnet_ids
                ),
                "The subnets of a one-off task",
            ),
            "ServiceSecurityGroup": (net.service.security_group_id, "The group of a one-off task"),
            "AlarmTopicArn": (topic.topic_arn, "Alarms and budget alerts"),
            "NatEgressAddresses": (
                Fn.join(",", network.nat_addresses(net.vpc)),
                "Where connections to the legacy Postgres come from (allow them there)",
            ),
        }
        if table.resource is not None:
            # A replica region's stream is its replica's, found by the consumer at its start.
            outputs["StreamArn"] = (table.stream_arn, "The table's stream")
        for key, (value, description) in outputs.items():
            CfnOutput(self, key, value=value, description=description)
