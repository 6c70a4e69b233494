"""Cost-allocation tags: every resource carries its stage and the feature it serves, so Cost
Explorer (once the two keys are activated as cost-allocation tags) splits the bill by both, and
the stage's budget filters on the first."""

from __future__ import annotations

from aws_cdk import Tags
from constructs import IConstruct

STAGE_TAG = "hustlehub:stage"
FEATURE_TAG = "hustlehub:feature"
PROJECT_TAG = "hustlehub:project"

# What each part of the stack is for, as the bill shows it.
FEATURES = (
    "network",  # VPC, NAT gateways, flow logs
    "api",  # load balancer, web tasks, the cluster, images, secrets they read
    "cache",  # ElastiCache Redis
    "table",  # DynamoDB
    "streams",  # the stream consumer and its metrics agent
    "signup",  # Cognito, the post-confirmation trigger
    "monitoring",  # alarms, the alarm topic, the budget
)


def tag_stack(stack: IConstruct, stage: str) -> None:
    Tags.of(stack).add(PROJECT_TAG, "hustlehub")
    Tags.of(stack).add(STAGE_TAG, stage)


def tag_feature(scope: IConstruct, feature: str) -> None:
    if feature not in FEATURES:
        raise ValueError(f"unknown feature {feature!r}")
    Tags.of(scope).add(FEATURE_TAG, feature)
