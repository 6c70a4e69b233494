"""The network: a VPC over two zones, and who may talk to whom.

Public subnets hold the load balancer and the NAT gateways; the service, the stream consumer,
Redis and the sign-up trigger live in private subnets. DynamoDB and S3 (ECR's image layers) are
reached through gateway endpoints, which cost nothing and keep that traffic off the NAT
gateways. Every security group starts closed in both directions and opens only what a flow
needs; the legacy Postgres is reachable only while a legacy phase runs, through the NAT
gateways, whose fixed addresses Supabase's network restrictions can allow.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct

from service.aws.infra.parameters import Parameters
from service.aws.infra.stage import Stage

SERVICE_PORT = 8080
REDIS_PORT = 6379
HTTPS = 443


@dataclass(frozen=True, slots=True)
class Network:
    vpc: ec2.Vpc
    balancer: ec2.SecurityGroup
    service: ec2.SecurityGroup
    cache: ec2.SecurityGroup
    trigger: ec2.SecurityGroup

    @property
    def private(self) -> ec2.SubnetSelection:
        return ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)


def _group(scope: Construct, name: str, vpc: ec2.Vpc, description: str) -> ec2.SecurityGroup:
    return ec2.SecurityGroup(
        scope, name, vpc=vpc, description=description, allow_all_outbound=False
    )


def _legacy_egress(scope: Construct, name: str, group: ec2.SecurityGroup, p: Parameters) -> None:
    # A resource of its own, so that it exists only while the condition holds.
    rule = ec2.CfnSecurityGroupEgress(
        scope,
        name,
        group_id=group.security_group_id,
        description="The legacy Postgres (Supabase), in dual-write and dual-read only",
        ip_protocol="tcp",
        cidr_ip=p.legacy_cidr.value_as_string,
        from_port=p.legacy_port.value_as_number,
        to_port=p.legacy_port.value_as_number,
    )
    rule.cfn_options.condition = p.uses_legacy


def network(scope: Construct, stage: Stage, parameters: Parameters) -> Network:
    vpc = ec2.Vpc(
        scope,
        "Vpc",
        max_azs=2,
        nat_gateways=stage.nat_gateways,
        # Nothing is placed in the default group, so its rules admit no one; CDK would empty
        # it with a custom-resource Lambda of its own (Node.js, AWS's managed logging policy).
        restrict_default_security_group=False,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC),
            ec2.SubnetConfiguration(name="private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
        ],
        gateway_endpoints={
            "DynamoDB": ec2.GatewayVpcEndpointOptions(
                service=ec2.GatewayVpcEndpointAwsService.DYNAMODB
            ),
            "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3),
        },
    )
    flow_logs = logs.LogGroup(
        scope,
        "FlowLogs",
        retention=stage.log_retention,
        removal_policy=RemovalPolicy.DESTROY,
    )
    vpc.add_flow_log("FlowLog", destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs))

    balancer = _group(scope, "BalancerSecurityGroup", vpc, "Hustle Hub load balancer")
    service = _group(scope, "ServiceSecurityGroup", vpc, "Hustle Hub service tasks")
    cache = _group(scope, "CacheSecurityGroup", vpc, "Hustle Hub Redis")
    trigger = _group(scope, "TriggerSecurityGroup", vpc, "Hustle Hub sign-up trigger")

    for port in (HTTPS, 80):
        balancer.add_ingress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(port), "clients")
    balancer.connections.allow_to(service, ec2.Port.tcp(SERVICE_PORT), "requests")
    service.connections.allow_to(cache, ec2.Port.tcp(REDIS_PORT), "the cache")
    # AWS APIs (Cognito's JWKS, Secrets Manager, CloudWatch Logs, ECR) through the NAT
    # gateways; DynamoDB through its endpoint, which is on 443 too.
    for group in (service, trigger):
        group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(HTTPS), "AWS APIs")
    _legacy_egress(scope, "ServiceLegacyEgress", service, parameters)
    _legacy_egress(scope, "TriggerLegacyEgress", trigger, parameters)

    return Network(vpc=vpc, balancer=balancer, service=service, cache=cache, trigger=trigger)


def nat_addresses(vpc: ec2.Vpc) -> list[str]:
    """The NAT gateways' elastic IPs: what the legacy Postgres sees connections come from."""
    addresses = []
    for subnet in vpc.public_subnets:
        eip = subnet.node.try_find_child("EIP")
        if isinstance(eip, ec2.CfnEIP):
            addresses.append(eip.ref)
    return addresses
