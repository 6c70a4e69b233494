"""Alarms at the design guide's alert levels (`metrics.slo.ALERTS`, which the Prometheus rules
read too), on AWS's own metrics, plus the sign-up trigger's failures, the stream consumer's
lag and, with replica regions, the global table's replication latency; every one notifies the
SNS topic of its stack's region (`monitoring.py`).

Each fires when its condition holds for five one-minute periods in a row, as the Prometheus
alerts' `for: 5m` does, and treats a period without traffic as fine: an idle stage is not an
alarm.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from constructs import Construct

from metrics.slo import ALERTS
from service.aws.infra.stage import Stage
from service.aws.infra.streams import LAG_METRIC, SCRAPE_JOB, namespace

# The table's data-plane operations the service calls (tests/infra holds them equal to what
# the code calls), read and write apart: an alarm's expression may read ten metrics at most,
# and each operation brings two, its throttled and its successful requests.
READ_OPERATIONS = ("BatchGetItem", "GetItem", "Query")
WRITE_OPERATIONS = ("BatchWriteItem", "DeleteItem", "PutItem", "TransactWriteItems", "UpdateItem")
_MAX_METRICS = 10
# Records normally reach the consumer within a second (metrics.streams' age buckets); a
# minute behind, invalidations from outside the API are late enough to be seen.
STREAM_LAG_SECONDS = 60.0
# A global table replicates within about a second, with no bound from AWS: a minute behind, a
# region serves writes made elsewhere late enough to be seen (docs/deploy.md, "Several regions").
REPLICATION_LATENCY_SECONDS = 60.0
PERIOD = Duration.minutes(1)
PERIODS = 5


def _alarm(
    scope: Construct,
    name: str,
    stage: Stage,
    topic: sns.ITopic,
    *,
    metric: cloudwatch.IMetric,
    threshold: float,
    description: str,
    comparison: cloudwatch.ComparisonOperator = (
        cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
    ),
    periods: int = PERIODS,
) -> cloudwatch.Alarm:
    alarm = cloudwatch.Alarm(
        scope,
        name,
        alarm_name=f"{stage.prefix}-{name}",
        alarm_description=description,
        metric=metric,
        threshold=threshold,
        comparison_operator=comparison,
        evaluation_periods=periods,
        datapoints_to_alarm=periods,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
    alarm.add_alarm_action(actions.SnsAction(topic))
    alarm.add_ok_action(actions.SnsAction(topic))
    return alarm


def _sum(ids: list[str]) -> str:
    return "+".join(f"FILL({i},0)" for i in ids)


def _dynamodb(table: str, metric: str, operation: str, statistic: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace="AWS/DynamoDB",
        metric_name=metric,
        dimensions_map={"TableName": table, "Operation": operation},
        statistic=statistic,
        period=PERIOD,
    )


def throttle_ratio(table: str, operations: tuple[str, ...]) -> cloudwatch.MathExpression:
    """Throttled requests over all requests of `operations` (throttled ones included)."""
    metrics: Mapping[str, cloudwatch.IMetric] = {
        **{
            f"t{i}": _dynamodb(table, "ThrottledRequests", op, "Sum")
            for i, op in enumerate(operations)
        },
        **{
            f"s{i}": _dynamodb(table, "SuccessfulRequestLatency", op, "SampleCount")
            for i, op in enumerate(operations)
        },
    }
    if len(metrics) > _MAX_METRICS:
        raise ValueError(f"{len(metrics)} metrics in one alarm: CloudWatch allows 10")
    throttled = _sum([f"t{i}" for i in range(len(operations))])
    succeeded = _sum([f"s{i}" for i in range(len(operations))])
    return cloudwatch.MathExpression(
        expression=f"({throttled})/({succeeded}+{throttled})",
        using_metrics=metrics,
        label="throttled / requests",
        period=PERIOD,
    )


def error_ratio(balancer: elbv2.ApplicationLoadBalancer) -> cloudwatch.MathExpression:
    def count(metric: cloudwatch.Metric) -> cloudwatch.Metric:
        return metric.with_(statistic="Sum", period=PERIOD)

    m = balancer.metrics
    return cloudwatch.MathExpression(
        # A 503 for want of a healthy target is not in RequestCount (no target was chosen),
        # so the load balancer's own 5xx join the denominator too.
        expression="(FILL(target,0)+FILL(elb,0))/(FILL(requests,0)+FILL(elb,0))",
        using_metrics={
            "target": count(m.http_code_target(elbv2.HttpCodeTarget.TARGET_5XX_COUNT)),
            "elb": count(m.http_code_elb(elbv2.HttpCodeElb.ELB_5XX_COUNT)),
            "requests": count(m.request_count()),
        },
        label="5xx / requests",
        period=PERIOD,
    )


def alarms(
    scope: Construct,
    stage: Stage,
    topic: sns.ITopic,
    *,
    table: str,
    balancer: elbv2.ApplicationLoadBalancer,
    target_group: elbv2.ApplicationTargetGroup,
    trigger: lambda_.Function | None,
    replicates_to: tuple[str, ...] = (),
) -> list[cloudwatch.Alarm]:
    percent = f"{ALERTS.throttle_ratio:.0%}"
    found = [
        _alarm(
            scope,
            f"DynamoDB{kind}Throttling",
            stage,
            topic,
            metric=throttle_ratio(table, operations),
            threshold=ALERTS.throttle_ratio,
            description=f"DynamoDB throttled more than {percent} of {kind.lower()} requests",
        )
        for kind, operations in (("Read", READ_OPERATIONS), ("Write", WRITE_OPERATIONS))
    ]
    found.append(
        _alarm(
            scope,
            "HighErrorRate",
            stage,
            topic,
            metric=error_ratio(balancer),
            threshold=ALERTS.error_ratio,
            description=f"More than {ALERTS.error_ratio:.1%} of requests answered 5xx",
        )
    )
    found.append(
        _alarm(
            scope,
            "HighLatencyP99",
            stage,
            topic,
            metric=target_group.metrics.target_response_time(statistic="p99", period=PERIOD),
            threshold=ALERTS.p99_seconds,
            description=f"P99 target response time above {ALERTS.p99_seconds * 1000:.0f} ms",
        )
    )
    if trigger is not None:
        found.append(_trigger_failures(scope, stage, topic, trigger))
    found.append(
        _alarm(
            scope,
            "StreamConsumerLag",
            stage,
            topic,
            metric=cloudwatch.Metric(
                namespace=namespace(stage),
                metric_name=LAG_METRIC,
                dimensions_map={"job": SCRAPE_JOB},
                statistic="Maximum",
                period=PERIOD,
            ),
            threshold=STREAM_LAG_SECONDS,
            description=f"The stream consumer is more than {STREAM_LAG_SECONDS:.0f} s behind",
        )
    )
    found.extend(
        _replication_latency(scope, stage, topic, table, region) for region in replicates_to
    )
    return found


def _trigger_failures(
    scope: Construct, stage: Stage, topic: sns.ITopic, trigger: lambda_.Function
) -> cloudwatch.Alarm:
    return _alarm(
        scope,
        "SignupTriggerFailures",
        stage,
        topic,
        metric=cloudwatch.MathExpression(
            expression="FILL(errors,0)+FILL(throttles,0)",
            using_metrics={
                "errors": trigger.metric_errors(statistic="Sum", period=PERIOD),
                "throttles": trigger.metric_throttles(statistic="Sum", period=PERIOD),
            },
            label="errors + throttles",
            period=PERIOD,
        ),
        threshold=1,
        comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        # One failed sign-up is worth a look: the profile waits for `PUT /v1/me`.
        periods=1,
        description="The post-confirmation trigger failed or was throttled",
    )


def _replication_latency(
    scope: Construct, stage: Stage, topic: sns.ITopic, table: str, receiving: str
) -> cloudwatch.Alarm:
    # Published in the region a write was made in, per region receiving it, in milliseconds.
    return _alarm(
        scope,
        f"ReplicationLatency-{receiving}",
        stage,
        topic,
        metric=cloudwatch.Metric(
            namespace="AWS/DynamoDB",
            metric_name="ReplicationLatency",
            dimensions_map={"TableName": table, "ReceivingRegion": receiving},
            statistic="Maximum",
            period=PERIOD,
        ),
        threshold=REPLICATION_LATENCY_SECONDS * 1000,
        description=f"Writes made here reach {receiving} more than"
        f" {REPLICATION_LATENCY_SECONDS:.0f} s late",
    )
