"""Where alerts go and what a stage may cost: an SNS topic (encrypted with a key of its own,
since CloudWatch and Budgets cannot publish to a topic under the AWS-managed SNS key), an
optional email subscription, and an AWS Budgets monthly cost budget over the stage's tag."""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from service.aws.infra.parameters import Parameters
from service.aws.infra.stage import Stage
from service.aws.infra.tagging import STAGE_TAG

# Budgets' thresholds, percent of the monthly budget: spent so far, and forecast for the month.
ACTUAL_PERCENT = 80
FORECAST_PERCENT = 100
_PUBLISHERS = ("cloudwatch.amazonaws.com", "budgets.amazonaws.com")


def alarm_topic(scope: Construct, stage: Stage, parameters: Parameters) -> sns.Topic:
    key = kms.Key(
        scope,
        "AlarmKey",
        description=f"Hustle Hub {stage.name}: the alarm topic's messages",
        enable_key_rotation=True,
    )
    publishers = [iam.ServicePrincipal(p) for p in _PUBLISHERS]
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AlarmPublishers",
            principals=publishers,
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],
            conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
        )
    )
    topic = sns.Topic(
        scope,
        "Alarms",
        display_name=f"Hustle Hub {stage.name} alarms",
        master_key=key,
        enforce_ssl=True,
    )
    topic.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AlarmPublishers",
            principals=publishers,
            actions=["sns:Publish"],
            resources=[topic.topic_arn],
            conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
        )
    )
    subscription = sns.CfnSubscription(
        scope,
        "AlarmEmailSubscription",
        topic_arn=topic.topic_arn,
        protocol="email",
        endpoint=parameters.alarm_email.value_as_string,
    )
    subscription.cfn_options.condition = parameters.has_alarm_email
    return topic


def _notification(
    kind: str, percent: int, topic: sns.ITopic
) -> budgets.CfnBudget.NotificationWithSubscribersProperty:
    return budgets.CfnBudget.NotificationWithSubscribersProperty(
        notification=budgets.CfnBudget.NotificationProperty(
            notification_type=kind,
            comparison_operator="GREATER_THAN",
            threshold=percent,
            threshold_type="PERCENTAGE",
        ),
        subscribers=[
            budgets.CfnBudget.SubscriberProperty(subscription_type="SNS", address=topic.topic_arn)
        ],
    )


def monthly_budget(
    scope: Construct, stage: Stage, parameters: Parameters, topic: sns.ITopic
) -> budgets.CfnBudget:
    if parameters.monthly_budget is None:
        raise ValueError("the stage's budget is in its primary stack")
    return budgets.CfnBudget(
        scope,
        "MonthlyBudget",
        budget=budgets.CfnBudget.BudgetDataProperty(
            budget_name=f"{stage.prefix}-monthly",
            budget_type="COST",
            time_unit="MONTHLY",
            budget_limit=budgets.CfnBudget.SpendProperty(
                amount=parameters.monthly_budget.value_as_number, unit="USD"
            ),
            # The stage's resources only, by their cost-allocation tag (once activated:
            # docs/deploy.md).
            cost_filters={"TagKeyValue": [f"user:{STAGE_TAG}${stage.name}"]},
        ),
        notifications_with_subscribers=[
            _notification("ACTUAL", ACTUAL_PERCENT, topic),
            _notification("FORECASTED", FORECAST_PERCENT, topic),
        ],
    )
