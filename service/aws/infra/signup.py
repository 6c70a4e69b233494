"""Sign-up: the Cognito user pool, its web client, and the post-confirmation Lambda
(`service.aws.registration.handler`) that creates a new user's profile.

The trigger gets only what it reads: the mode, the region, the table and the migration phase,
and in the legacy phases the ARN of the DSN's secret, which it resolves itself
(`service.aws.envsecrets`: Lambda has no `secrets` field). It verifies no token and signs no
cursor handed to anyone, so it gets neither the cursor secret nor the app client ids
(`service.aws.trigger.TriggerSettings`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Aws, Duration, Fn, RemovalPolicy
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from service.aws.envsecrets import SECRET_ARNS
from service.aws.iam import REGISTRATION_ACTIONS
from service.aws.infra.network import Network
from service.aws.infra.parameters import Parameters, legacy_dsn_reader
from service.aws.infra.stage import Stage
from service.aws.infra.table import DirectoryTable

HANDLER = "service.aws.registration.handler"
# `make lambda-package` builds the zip for this Python and architecture (LAMBDA_PYTHON,
# LAMBDA_PLATFORM); tests/infra holds the two to each other.
RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64
# Cognito waits at most 5 s for a trigger (and retries it; the write is idempotent).
TIMEOUT = Duration.seconds(5)
LEGACY_DSN = "HUSTLEHUB_MIGRATION__LEGACY_DSN"
# The network calls of a function attached to a VPC: its interfaces, which IAM cannot scope
# below `*`. Spelt out rather than AWS's managed AWSLambdaVPCAccessExecutionRole, which also
# grants writing to every log group.
_VPC_ACTIONS = (
    "ec2:AssignPrivateIpAddresses",
    "ec2:CreateNetworkInterface",
    "ec2:DeleteNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:UnassignPrivateIpAddresses",
)


@dataclass(frozen=True, slots=True)
class Issuer:
    """Whose tokens the service accepts: the one user pool and its web client. A user pool is
    regional, and a user signs up once: with replica regions the pool stays in the primary's
    stack, and every region's service trusts it there."""

    region: str
    user_pool_id: str
    client_id: str


@dataclass(frozen=True, slots=True)
class Signup:
    pool: cognito.UserPool
    client: cognito.UserPoolClient
    function: lambda_.Function
    role: iam.Role
    failures: sqs.Queue

    @property
    def issuer(self) -> Issuer:
        return Issuer(
            region=Aws.REGION,
            user_pool_id=self.pool.user_pool_id,
            client_id=self.client.user_pool_client_id,
        )


def _secret_arns(parameters: Parameters) -> str:
    # {"HUSTLEHUB_MIGRATION__LEGACY_DSN": "<arn>"} in the legacy phases, {} otherwise.
    legacy = Fn.join(
        "", [f'{{"{LEGACY_DSN}":"', parameters.legacy_dsn_secret_arn.value_as_string, '"}']
    )
    return Fn.condition_if(parameters.uses_legacy.logical_id, legacy, "{}").to_string()


def _role(
    scope: Construct, table: DirectoryTable, log_group: logs.LogGroup, p: Parameters
) -> iam.Role:
    role = iam.Role(
        scope,
        "PostConfirmationRole",
        description="Hustle Hub post-confirmation trigger: profile writes, its logs, its network",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        inline_policies={
            "create-profile": iam.PolicyDocument(
                statements=[
                    iam.PolicyStatement(
                        sid="Profiles",
                        actions=list(REGISTRATION_ACTIONS),
                        resources=[table.arn],
                    ),
                    iam.PolicyStatement(
                        sid="Logs",
                        actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                        resources=[log_group.log_group_arn],
                    ),
                    iam.PolicyStatement(sid="Network", actions=list(_VPC_ACTIONS), resources=["*"]),
                ]
            )
        },
    )
    legacy_dsn_reader(scope, "PostConfirmationLegacyDsn", role, p)
    return role


def signup(
    scope: Construct,
    stage: Stage,
    *,
    table: DirectoryTable,
    network: Network,
    parameters: Parameters,
    package: Path,
) -> Signup:
    log_group = logs.LogGroup(
        scope,
        "PostConfirmationLogs",
        retention=stage.log_retention,
        removal_policy=RemovalPolicy.DESTROY,
    )
    role = _role(scope, table, log_group, parameters)
    # Where an asynchronous invocation that failed every attempt ends (Cognito's own calls
    # are synchronous: their failures are the Errors alarm's, and `PUT /v1/me` creates the
    # profile a failed trigger did not).
    failures = sqs.Queue(
        scope,
        "PostConfirmationFailures",
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=Duration.days(14),
    )
    function = lambda_.Function(
        scope,
        "PostConfirmation",
        description="Creates the Hustle Hub profile of a user who confirmed sign-up",
        runtime=RUNTIME,
        architecture=ARCHITECTURE,
        handler=HANDLER,
        code=lambda_.Code.from_asset(str(package)),
        role=role,
        memory_size=256,
        timeout=TIMEOUT,
        tracing=lambda_.Tracing.ACTIVE,
        reserved_concurrent_executions=stage.trigger_concurrency,
        log_group=log_group,
        on_failure=destinations.SqsDestination(failures),
        retry_attempts=2,
        vpc=network.vpc,
        vpc_subnets=network.private,
        security_groups=[network.trigger],
        environment={
            "HUSTLEHUB_MODE": "production",
            "HUSTLEHUB_AWS_REGION": Aws.REGION,
            "HUSTLEHUB_TABLE_NAME": table.name,
            "HUSTLEHUB_MIGRATION__PHASE": parameters.phase.value_as_string,
            SECRET_ARNS: _secret_arns(parameters),
        },
    )
    pool = _pool(scope, stage, parameters, function)
    client = pool.add_client(
        "WebClient",
        user_pool_client_name=f"{stage.prefix}-web",
        auth_flows=cognito.AuthFlow(user_srp=True),
        generate_secret=False,
        prevent_user_existence_errors=True,
    )
    return Signup(pool=pool, client=client, function=function, role=role, failures=failures)


def _pool(
    scope: Construct, stage: Stage, parameters: Parameters, trigger: lambda_.Function
) -> cognito.UserPool:
    email_from, email_identity = parameters.email()
    pool = cognito.UserPool(
        scope,
        "UserPool",
        user_pool_name=f"{stage.prefix}-users",
        self_sign_up_enabled=True,
        sign_in_aliases=cognito.SignInAliases(email=True),
        sign_in_case_sensitive=False,
        auto_verify=cognito.AutoVerifiedAttrs(email=True),
        account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
        password_policy=cognito.PasswordPolicy(
            min_length=12,
            require_lowercase=True,
            require_uppercase=True,
            require_digits=True,
            require_symbols=False,
        ),
        mfa=cognito.Mfa.OPTIONAL,
        mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
        email=cognito.UserPoolEmail.with_ses(
            from_email=email_from.value_as_string, ses_region=Aws.REGION
        ),
        # Threat protection (what was advanced security) where the plan has it: Plus,
        # enforced; otherwise Essentials, which has none.
        feature_plan=(
            cognito.FeaturePlan.PLUS if stage.threat_protection else cognito.FeaturePlan.ESSENTIALS
        ),
        standard_threat_protection_mode=(
            cognito.StandardThreatProtectionMode.FULL_FUNCTION if stage.threat_protection else None
        ),
        deletion_protection=stage.production,
        removal_policy=RemovalPolicy.RETAIN if stage.production else RemovalPolicy.DESTROY,
        lambda_triggers=cognito.UserPoolTriggers(post_confirmation=trigger),
    )
    # The sending identity may be the sender's domain rather than the address itself (CDK
    # would compare the two parameters' placeholders, not their values).
    cfn = pool.node.default_child
    assert isinstance(cfn, cognito.CfnUserPool)
    cfn.add_property_override(
        "EmailConfiguration.SourceArn",
        Fn.sub(
            "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${Identity}",
            {"Identity": email_identity.value_as_string},
        ),
    )
    return pool
