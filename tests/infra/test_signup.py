"""Sign-up as synthesised: the user pool and its post-confirmation trigger."""

from __future__ import annotations

import re

from service.aws.envsecrets import SECRET_ARNS
from service.aws.infra.signup import HANDLER
from service.aws.infra.stage import DEV, Stage
from tests.infra.synth import STAGES, Synthesised, makefile_variable, one, props


@STAGES
def test_the_pool_sends_email_through_ses_with_optional_mfa(
    synthesised: Synthesised, stage: Stage
) -> None:
    pool = props(synthesised.of(stage), "AWS::Cognito::UserPool")
    email = pool["EmailConfiguration"]
    assert email["EmailSendingAccount"] == "DEVELOPER"
    assert email["From"] == {"Ref": "EmailFrom"}
    assert email["SourceArn"]["Fn::Sub"][1] == {"Identity": {"Ref": "EmailIdentity"}}
    assert email["SourceArn"]["Fn::Sub"][0].startswith("arn:${AWS::Partition}:ses:")
    assert pool["MfaConfiguration"] == "OPTIONAL"
    assert pool["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]
    assert pool["UsernameAttributes"] == ["email"]


@STAGES
def test_threat_protection_where_the_plan_has_it(synthesised: Synthesised, stage: Stage) -> None:
    template = synthesised.of(stage)
    _, pool = one(template, "AWS::Cognito::UserPool")
    properties = pool["Properties"]
    if stage.threat_protection:
        assert properties["UserPoolTier"] == "PLUS"
        assert properties["UserPoolAddOns"] == {"AdvancedSecurityMode": "ENFORCED"}
    else:
        assert properties["UserPoolTier"] == "ESSENTIALS"
        assert "UserPoolAddOns" not in properties
    kept = stage.production
    assert properties["DeletionProtection"] == ("ACTIVE" if kept else "INACTIVE")
    assert pool["DeletionPolicy"] == ("Retain" if kept else "Delete")


@STAGES
def test_the_trigger_runs_the_registration_handler_after_confirmation(
    synthesised: Synthesised, stage: Stage
) -> None:
    template = synthesised.of(stage)
    name, function = one(template, "AWS::Lambda::Function", "PostConfirmation")
    pool = props(template, "AWS::Cognito::UserPool")
    assert pool["LambdaConfig"] == {"PostConfirmation": {"Fn::GetAtt": [name, "Arn"]}}
    properties = function["Properties"]
    assert properties["Handler"] == HANDLER == "service.aws.registration.handler"
    assert properties["Architectures"] == ["arm64"]
    assert properties["TracingConfig"] == {"Mode": "Active"}
    assert properties["ReservedConcurrentExecutions"] == stage.trigger_concurrency
    # Cognito gives up on a trigger after 5 s.
    assert properties["Timeout"] <= 5
    assert set(properties["VpcConfig"]) == {"SubnetIds", "SecurityGroupIds"}
    permission = props(template, "AWS::Lambda::Permission")
    assert permission["Principal"] == "cognito-idp.amazonaws.com"
    assert permission["SourceArn"] == {
        "Fn::GetAtt": [one(template, "AWS::Cognito::UserPool")[0], "Arn"]
    }


@STAGES
def test_a_failed_asynchronous_invocation_lands_in_the_failure_queue(
    synthesised: Synthesised, stage: Stage
) -> None:
    template = synthesised.of(stage)
    config = props(template, "AWS::Lambda::EventInvokeConfig")
    queue, _ = one(template, "AWS::SQS::Queue", "PostConfirmationFailures")
    assert config["DestinationConfig"] == {
        "OnFailure": {"Destination": {"Fn::GetAtt": [queue, "Arn"]}}
    }


@STAGES
def test_the_trigger_gets_only_the_settings_it_reads(
    synthesised: Synthesised, stage: Stage
) -> None:
    template = synthesised.of(stage)
    table, _ = one(template, "AWS::DynamoDB::Table")
    variables = props(template, "AWS::Lambda::Function", "PostConfirmation")["Environment"][
        "Variables"
    ]
    assert variables == {
        "HUSTLEHUB_MODE": "production",
        "HUSTLEHUB_AWS_REGION": {"Ref": "AWS::Region"},
        "HUSTLEHUB_TABLE_NAME": {"Ref": table},
        "HUSTLEHUB_MIGRATION__PHASE": {"Ref": "MigrationPhase"},
        SECRET_ARNS: {
            "Fn::If": [
                "UsesLegacy",
                {
                    "Fn::Join": [
                        "",
                        ['{"HUSTLEHUB_MIGRATION__LEGACY_DSN":"', {"Ref": "LegacyDsnArn"}, '"}'],
                    ]
                },
                "{}",
            ]
        },
    }


def test_the_lambda_package_is_built_for_the_runtime_the_stack_names(
    synthesised: Synthesised,
) -> None:
    properties = props(synthesised.of(DEV), "AWS::Lambda::Function")
    runtime = properties["Runtime"]
    assert re.fullmatch(r"python3\.\d+", runtime)
    assert runtime == f"python{makefile_variable('LAMBDA_PYTHON')}"
    arch = {"arm64": "aarch64", "x86_64": "x86_64"}[properties["Architectures"][0]]
    assert makefile_variable("LAMBDA_PLATFORM") == f"manylinux2014_{arch}"
