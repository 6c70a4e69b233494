"""The stack's CloudFormation parameters: what an operator changes between deploys.

`cdk deploy --parameters Name=value` sets one; a later deploy that does not name it keeps the
previous value (the CLI's default), so a phase once switched stays switched: nothing is edited
by hand in the console, and no deploy reverts it. docs/deploy.md says what each one means.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import CfnCondition, CfnParameter, CfnRule, CfnRuleAssertion, Fn
from aws_cdk import aws_iam as iam
from constructs import Construct

from service.aws.infra.stage import Stage

PHASES = ("dynamodb-only", "dual-write", "dual-read")
_ARN_OR_EMPTY = r"^$|^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$"
_CIDR = r"^([0-9]{1,3}\.){3}[0-9]{1,3}/([0-9]|[1-2][0-9]|3[0-2])$"
_EMAIL = r"^$|^[^@\s]+@[^@\s]+$"


@dataclass(frozen=True, slots=True)
class Parameters:
    phase: CfnParameter
    legacy_dsn_secret_arn: CfnParameter
    legacy_cidr: CfnParameter
    legacy_port: CfnParameter
    # None in a replica region's stack, which has no user pool to send email and no budget
    # (the stage's one budget, in the primary's stack, covers every region by the stage tag).
    email_from: CfnParameter | None
    email_identity: CfnParameter | None
    alarm_email: CfnParameter
    monthly_budget: CfnParameter | None
    # True in dual-write and dual-read: the legacy Postgres is read and written.
    uses_legacy: CfnCondition
    has_alarm_email: CfnCondition

    def email(self) -> tuple[CfnParameter, CfnParameter]:
        """EmailFrom and EmailIdentity, declared where the user pool is."""
        if self.email_from is None or self.email_identity is None:
            raise ValueError("no user pool in this stack: it declares no email parameters")
        return self.email_from, self.email_identity


def declare(scope: Construct, stage: Stage, *, primary: bool = True) -> Parameters:
    phase = CfnParameter(
        scope,
        "MigrationPhase",
        type="String",
        allowed_values=list(PHASES),
        default="dynamodb-only",
        description="HUSTLEHUB_MIGRATION__PHASE of the service and the sign-up trigger",
    )
    legacy_dsn = CfnParameter(
        scope,
        "LegacyDsnArn",
        type="String",
        default="",
        allowed_pattern=_ARN_OR_EMPTY,
        description="ARN of the Secrets Manager secret holding the Supabase Postgres DSN"
        " (required in dual-write and dual-read)",
    )
    legacy_cidr = CfnParameter(
        scope,
        "LegacyDatabaseCidr",
        type="String",
        default="0.0.0.0/0",
        allowed_pattern=_CIDR,
        description="Addresses the legacy Postgres is reached at, through the NAT gateways"
        " (used in the legacy phases only)",
    )
    legacy_port = CfnParameter(
        scope,
        "LegacyDatabasePort",
        type="Number",
        default=5432,
        min_value=1,
        max_value=65535,
        description="TCP port of the legacy Postgres",
    )
    email_from, email_identity, budget = (
        _primary_only(scope, stage) if primary else (None, None, None)
    )
    alarm_email = CfnParameter(
        scope,
        "AlarmEmail",
        type="String",
        default="",
        allowed_pattern=_EMAIL,
        description="Subscribed to the alarm topic when set (alarms and budget alerts)",
    )
    is_legacy = Fn.condition_not(Fn.condition_equals(phase.value_as_string, "dynamodb-only"))
    uses_legacy = CfnCondition(scope, "UsesLegacy", expression=is_legacy)
    has_alarm_email = CfnCondition(
        scope,
        "HasAlarmEmail",
        expression=Fn.condition_not(Fn.condition_equals(alarm_email.value_as_string, "")),
    )
    # Refused before anything changes: a legacy phase without the database to use.
    CfnRule(
        scope,
        "LegacyPhaseNeedsDsn",
        rule_condition=is_legacy,
        assertions=[
            CfnRuleAssertion(
                assert_=Fn.condition_not(Fn.condition_equals(legacy_dsn.value_as_string, "")),
                assert_description="dual-write and dual-read need LegacyDsnArn",
            )
        ],
    )
    return Parameters(
        phase=phase,
        legacy_dsn_secret_arn=legacy_dsn,
        legacy_cidr=legacy_cidr,
        legacy_port=legacy_port,
        email_from=email_from,
        email_identity=email_identity,
        alarm_email=alarm_email,
        monthly_budget=budget,
        uses_legacy=uses_legacy,
        has_alarm_email=has_alarm_email,
    )


def _primary_only(
    scope: Construct, stage: Stage
) -> tuple[CfnParameter, CfnParameter, CfnParameter]:
    """EmailFrom, EmailIdentity and MonthlyBudgetUsd: of the user pool and the budget."""
    email_from = CfnParameter(
        scope,
        "EmailFrom",
        type="String",
        allowed_pattern=r"^[^@\s]+@[^@\s]+$",
        description="Sender of Cognito's emails (sign-up codes, password resets), sent by SES",
    )
    email_identity = CfnParameter(
        scope,
        "EmailIdentity",
        type="String",
        description="The SES-verified identity EmailFrom belongs to: its domain, or the address",
    )
    budget = CfnParameter(
        scope,
        "MonthlyBudgetUsd",
        type="Number",
        default=stage.monthly_budget_usd,
        min_value=1,
        description="Monthly cost budget of this stage (its resources, by the stage tag), USD",
    )
    return email_from, email_identity, budget


def legacy_dsn_reader(scope: Construct, name: str, role: iam.IRole, p: Parameters) -> iam.Policy:
    """A policy letting `role` read the legacy DSN's secret, present in the legacy phases only
    (the ARN is empty otherwise)."""
    policy = iam.Policy(
        scope,
        name,
        statements=[
            iam.PolicyStatement(
                sid="LegacyDsn",
                actions=["secretsmanager:GetSecretValue"],
                resources=[p.legacy_dsn_secret_arn.value_as_string],
            )
        ],
        roles=[role],
    )
    cfn = policy.node.default_child
    assert isinstance(cfn, iam.CfnPolicy)
    cfn.cfn_options.condition = p.uses_legacy
    return policy
