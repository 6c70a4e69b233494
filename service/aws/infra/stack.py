"""The whole deployment of one stage as one stack: network, table, cache, sign-up, the web
service behind CloudFront and the stream consumer, alarms, budget. Each feature is built in a
scope of its own, which its cost-allocation tag is put on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import CfnOutput, Environment, Fn, Stack
from constructs import Construct

from service.aws.infra import alarms, cache, cdn, monitoring, network, signup, streams, tasks, web
from service.aws.infra.parameters import declare
from service.aws.infra.stage import Stage
from service.aws.infra.table import directory_table
from service.aws.infra.tagging import tag_feature, tag_stack


@dataclass(frozen=True, slots=True)
class Sources:
    """What the stack is built from on disk."""

    repo: Path  # the Docker build context (the repository's root, its Dockerfile)
    lambda_package: Path  # `make lambda-package`'s zip


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
    ) -> None:
        super().__init__(
            scope,
            stage.stack_name,
            stack_name=stage.stack_name,
            # The region is fixed at synthesis (the load balancer's access logs are granted to
            # a regional principal); the account is the deploying credentials'.
            env=Environment(region=region),
            description=f"Hustle Hub directory, stage {stage.name}: service, table, cache,"
            " sign-up, alarms (docs/deploy.md)",
        )
        self.stage = stage
        tag_stack(self, stage.name)
        parameters = declare(self, stage)

        def feature(name: str) -> Construct:
            part = Construct(self, name.capitalize())
            tag_feature(part, name)
            return part

        net = network.network(feature("network"), stage, parameters)
        table = directory_table(feature("table"), stage)
        redis = cache.redis_cluster(feature("cache"), stage, net)
        users = signup.signup(
            feature("signup"),
            stage,
            table=table,
            network=net,
            parameters=parameters,
            package=sources.lambda_package,
        )
        api = feature("api")
        runs = tasks.tasks(
            api,
            stage,
            vpc=net.vpc,
            table_arn=table.attr_arn,
            stream_arn=table.attr_stream_arn,
            parameters=parameters,
            repo=sources.repo,
        )
        front = web.web(
            api,
            stage,
            network=net,
            tasks=runs,
            cache=redis,
            signup=users,
            table=table.ref,
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
            signup=users,
            table=table.ref,
            parameters=parameters,
        )
        watch = feature("monitoring")
        topic = monitoring.alarm_topic(watch, stage, parameters)
        monitoring.monthly_budget(watch, stage, parameters, topic)
        alarms.alarms(
            watch,
            stage,
            topic,
            table=table.ref,
            balancer=front.balancer,
            target_group=front.target_group,
            trigger=users.function,
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
            "TableName": (table.ref, "HUSTLEHUB_TABLE_NAME"),
            "StreamArn": (table.attr_stream_arn, "The table's stream"),
            "UserPoolId": (users.pool.user_pool_id, "HUSTLEHUB_COGNITO_USER_POOL_ID"),
            "UserPoolClientId": (
                users.client.user_pool_client_id,
                "HUSTLEHUB_COGNITO_APP_CLIENT_IDS",
            ),
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
        for name, (value, description) in outputs.items():
            CfnOutput(self, name, value=value, description=description)
