"""The buckets AWS services deliver access logs to: private, encrypted with S3-managed keys
(the only keys the load balancer's log delivery can write with), TLS only, kept 90 days in
production and 14 elsewhere, and kept when the stack goes."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

from service.aws.infra.stage import Stage


def log_bucket(
    scope: Construct, name: str, stage: Stage, *, ownership: s3.ObjectOwnership
) -> s3.Bucket:
    """`ownership`: BUCKET_OWNER_ENFORCED (no ACLs) where the delivery needs none, as the load
    balancer's; OBJECT_WRITER where it writes with an ACL, as CloudFront's standard logs."""
    return s3.Bucket(
        scope,
        name,
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        object_ownership=ownership,
        lifecycle_rules=[
            s3.LifecycleRule(expiration=Duration.days(90 if stage.production else 14))
        ],
        removal_policy=RemovalPolicy.RETAIN,
    )
