"""Alarms at the design guide's thresholds, the topic they notify, the budget."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, generate_latest

from metrics.slo import ALERTS
from metrics.streams import StreamMetrics
from service.aws.infra.alarms import READ_OPERATIONS, STREAM_LAG_SECONDS, WRITE_OPERATIONS
from service.aws.infra.stage import Stage
from service.aws.infra.streams import LAG_METRIC, SCRAPE_JOB
from tests.infra.codescan import dynamodb_calls
from tests.infra.synth import STAGES, Synthesised, Template, one, props, resources
from tests.infra.test_policy import OPERATOR_COMMANDS

# Control-plane calls have no per-operation request metrics.
CONTROL_PLANE = {"DescribeTable"}


def alarm(template: Template, name: str) -> dict[str, Any]:
    return props(template, "AWS::CloudWatch::Alarm", name)


def queried(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    return [q["MetricStat"]["Metric"] for q in alarm["Metrics"] if "MetricStat" in q]


def test_the_throttle_alarms_watch_every_operation_the_code_calls() -> None:
    # The operator commands run outside the service (tests/infra/test_policy.py says why).
    calls = dynamodb_calls("service.app", leave_out=OPERATOR_COMMANDS)
    assert set(READ_OPERATIONS) | set(WRITE_OPERATIONS) == calls.operations - CONTROL_PLANE
    assert not set(READ_OPERATIONS) & set(WRITE_OPERATIONS)


@STAGES
def test_dynamodb_throttling_over_one_percent_of_requests(
    synthesised: Synthesised, stage: Stage
) -> None:
    template = synthesised.of(stage)
    table, _ = one(template, "AWS::DynamoDB::Table")
    for kind, operations in (("Read", READ_OPERATIONS), ("Write", WRITE_OPERATIONS)):
        found = alarm(template, f"DynamoDB{kind}Throttling")
        assert found["Threshold"] == ALERTS.throttle_ratio == 0.01
        assert found["ComparisonOperator"] == "GreaterThanThreshold"
        metrics = queried(found)
        assert len(found["Metrics"]) <= 11  # ten metrics and the expression
        for name in ("ThrottledRequests", "SuccessfulRequestLatency"):
            watched = {
                next(d["Value"] for d in m["Dimensions"] if d["Name"] == "Operation")
                for m in metrics
                if m["MetricName"] == name
            }
            assert watched == set(operations)
        for metric in metrics:
            assert {"Name": "TableName", "Value": {"Ref": table}} in metric["Dimensions"]
        statistics = {q["MetricStat"]["Stat"] for q in found["Metrics"] if "MetricStat" in q}
        assert statistics == {"Sum", "SampleCount"}
        (expression,) = [q["Expression"] for q in found["Metrics"] if "Expression" in q]
        throttled = "+".join(f"FILL(t{i},0)" for i in range(len(operations)))
        succeeded = "+".join(f"FILL(s{i},0)" for i in range(len(operations)))
        assert expression == f"({throttled})/({succeeded}+{throttled})"


@STAGES
def test_5xx_over_half_a_percent_and_p99_over_100_ms(
    synthesised: Synthesised, stage: Stage
) -> None:
    template = synthesised.of(stage)
    errors = alarm(template, "HighErrorRate")
    assert errors["Threshold"] == ALERTS.error_ratio == 0.005
    names = {m["MetricName"] for m in queried(errors)}
    assert names == {"HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count", "RequestCount"}
    latency = alarm(template, "HighLatencyP99")
    assert latency["Threshold"] == ALERTS.p99_seconds == 0.1
    assert (latency["MetricName"], latency["ExtendedStatistic"]) == ("TargetResponseTime", "p99")
    assert latency["Namespace"] == "AWS/ApplicationELB"


@STAGES
def test_the_trigger_and_the_stream_consumer_are_watched(
    synthesised: Synthesised, stage: Stage
) -> None:
    template = synthesised.of(stage)
    function, _ = one(template, "AWS::Lambda::Function", "PostConfirmation")
    trigger = alarm(template, "SignupTriggerFailures")
    assert {m["MetricName"] for m in queried(trigger)} == {"Errors", "Throttles"}
    for metric in queried(trigger):
        assert metric["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function}}]
    assert (trigger["Threshold"], trigger["EvaluationPeriods"]) == (1, 1)
    lag = alarm(template, "StreamConsumerLag")
    assert (lag["Namespace"], lag["MetricName"]) == (f"HustleHub/{stage.name}", LAG_METRIC)
    assert lag["Dimensions"] == [{"Name": "job", "Value": SCRAPE_JOB}]
    assert (lag["Statistic"], lag["Threshold"]) == ("Maximum", STREAM_LAG_SECONDS)


def test_the_lag_alarm_names_the_gauge_the_consumer_exports() -> None:
    registry = CollectorRegistry()
    StreamMetrics(registry).lag(2.0)
    assert f"{LAG_METRIC} 2.0" in generate_latest(registry).decode()


@STAGES
def test_every_alarm_notifies_the_topic_after_five_minutes_without_paging_on_idleness(
    synthesised: Synthesised, stage: Stage
) -> None:
    template = synthesised.of(stage)
    topic, _ = one(template, "AWS::SNS::Topic")
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    assert len(alarms) == 6
    for name, found in alarms.items():
        properties = found["Properties"]
        assert properties["AlarmActions"] == [{"Ref": topic}], name
        assert properties["OKActions"] == [{"Ref": topic}], name
        assert properties["TreatMissingData"] == "notBreaching"
        assert properties["AlarmName"].startswith(f"{stage.prefix}-")
        if "Trigger" not in name:
            assert properties["EvaluationPeriods"] == properties["DatapointsToAlarm"] == 5
            assert properties.get("Period", 60) == 60


@STAGES
def test_cloudwatch_and_budgets_may_publish_to_the_encrypted_topic(
    synthesised: Synthesised, stage: Stage
) -> None:
    template = synthesised.of(stage)
    topic = props(template, "AWS::SNS::Topic")
    key, found = one(template, "AWS::KMS::Key")
    assert topic["KmsMasterKeyId"] == {"Fn::GetAtt": [key, "Arn"]}
    assert found["Properties"]["EnableKeyRotation"] is True
    publishers = {"cloudwatch.amazonaws.com", "budgets.amazonaws.com"}
    for document in (
        found["Properties"]["KeyPolicy"],
        props(template, "AWS::SNS::TopicPolicy")["PolicyDocument"],
    ):
        (statement,) = [s for s in document["Statement"] if s.get("Sid") == "AlarmPublishers"]
        assert set(statement["Principal"]["Service"]) == publishers
    _, found = one(template, "AWS::SNS::Subscription")
    assert found["Condition"] == "HasAlarmEmail"
    assert found["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}


@STAGES
def test_a_monthly_budget_of_the_stage_alerts_the_topic(
    synthesised: Synthesised, stage: Stage
) -> None:
    template = synthesised.of(stage)
    topic, _ = one(template, "AWS::SNS::Topic")
    budget = props(template, "AWS::Budgets::Budget")
    data = budget["Budget"]
    assert (data["BudgetType"], data["TimeUnit"]) == ("COST", "MONTHLY")
    assert data["BudgetLimit"] == {"Amount": {"Ref": "MonthlyBudgetUsd"}, "Unit": "USD"}
    assert template["Parameters"]["MonthlyBudgetUsd"]["Default"] == stage.monthly_budget_usd
    assert data["CostFilters"] == {"TagKeyValue": [f"user:hustlehub:stage${stage.name}"]}
    kinds = {n["Notification"]["NotificationType"] for n in budget["NotificationsWithSubscribers"]}
    assert kinds == {"ACTUAL", "FORECASTED"}
    for notification in budget["NotificationsWithSubscribers"]:
        assert notification["Subscribers"] == [
            {"Address": {"Ref": topic}, "SubscriptionType": "SNS"}
        ]
