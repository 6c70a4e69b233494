"""The generated CloudFormation stack: cfn-lint clean, and every property operators rely on."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint

from service.aws.iam import SERVICE_ACTIONS, STREAM_ACTIONS
from service.aws.signup import HANDLER
from service.aws.template import TABLE, stack_template
from service.cli import main
from service.store.schema import STREAM_VIEW, TTL_ATTRIBUTE, table_definition

NAME = "HustleHubDirectory"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return stack_template(NAME)


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def test_cfn_lint_finds_nothing_not_even_a_warning(template: dict[str, Any]) -> None:
    regions = ["us-east-1", "eu-west-1", "ap-southeast-2"]
    matches = lint(json.dumps(template, indent=2), config=ManualArgs(regions=regions))
    assert [str(match) for match in matches] == []


def test_cfn_lint_is_not_blind_to_a_bad_action(template: dict[str, Any]) -> None:
    # TransactWriteItems is an API, not an IAM action: granting it grants nothing.
    broken = json.loads(json.dumps(template))
    statement = broken["Resources"]["ServicePolicy"]["Properties"]["PolicyDocument"]
    statement["Statement"][0]["Action"].append("dynamodb:TransactWriteItems")
    matches = lint(json.dumps(broken), config=ManualArgs(regions=["us-east-1"]))
    assert {match.rule.id for match in matches} == {"W3037"}


def test_the_table_is_the_one_definition_with_production_safeguards(
    template: dict[str, Any],
) -> None:
    table = template["Resources"][TABLE]
    props = table["Properties"]
    definition = table_definition(NAME, deletion_protection=True)
    for key in ("TableName", "KeySchema", "AttributeDefinitions", "GlobalSecondaryIndexes"):
        assert props[key] == definition[key]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"] == {"SSEEnabled": True}
    assert props["DeletionProtectionEnabled"] is True
    assert props["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}
    assert props["StreamSpecification"] == {"StreamViewType": STREAM_VIEW}
    assert STREAM_VIEW == "NEW_AND_OLD_IMAGES"
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_the_user_pool_runs_the_registration_handler_after_confirmation(
    template: dict[str, Any],
) -> None:
    (pool,) = _of_type(template, "AWS::Cognito::UserPool").values()
    (function_id,) = _of_type(template, "AWS::Lambda::Function")
    function = template["Resources"][function_id]["Properties"]
    assert pool["Properties"]["LambdaConfig"] == {
        "PostConfirmation": {"Fn::GetAtt": [function_id, "Arn"]}
    }
    assert function["Handler"] == HANDLER == "service.aws.registration.handler"
    assert function["Environment"]["Variables"]["HUSTLEHUB_TABLE_NAME"] == {"Ref": TABLE}
    assert function["Environment"]["Variables"]["HUSTLEHUB_MODE"] == "production"
    # Cognito gives up on a trigger after 5 s.
    assert function["Timeout"] <= 5

    (permission,) = _of_type(template, "AWS::Lambda::Permission").values()
    (pool_id,) = _of_type(template, "AWS::Cognito::UserPool")
    assert permission["Properties"]["Principal"] == "cognito-idp.amazonaws.com"
    assert permission["Properties"]["Action"] == "lambda:InvokeFunction"
    assert permission["Properties"]["FunctionName"] == {"Fn::GetAtt": [function_id, "Arn"]}
    assert permission["Properties"]["SourceArn"] == {"Fn::GetAtt": [pool_id, "Arn"]}


def test_the_lambda_has_a_role_of_its_own_limited_to_the_table_and_its_logs(
    template: dict[str, Any],
) -> None:
    (function,) = _of_type(template, "AWS::Lambda::Function").values()
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    role = template["Resources"][role_id]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert "ManagedPolicyArns" not in role  # no AWS-managed catch-all such as BasicExecution
    statements = [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    by_sid = {s["Sid"]: s for s in statements}
    assert set(by_sid) == {"Profiles", "Logs"}
    assert by_sid["Profiles"]["Resource"] == [{"Fn::GetAtt": [TABLE, "Arn"]}]
    assert set(by_sid["Logs"]["Action"]) == {"logs:CreateLogStream", "logs:PutLogEvents"}
    log_group = by_sid["Logs"]["Resource"][0]["Fn::GetAtt"][0]
    assert function["Properties"]["LoggingConfig"] == {"LogGroup": {"Ref": log_group}}
    for statement in statements:
        assert all("*" not in action for action in statement["Action"])


def test_the_service_policy_names_its_table_index_and_stream_arns_only(
    template: dict[str, Any],
) -> None:
    (policy,) = _of_type(template, "AWS::IAM::ManagedPolicy").values()
    statement, stream = policy["Properties"]["PolicyDocument"]["Statement"]
    assert stream["Action"] == list(STREAM_ACTIONS)
    assert stream["Resource"] == [{"Fn::GetAtt": [TABLE, "StreamArn"]}]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == list(SERVICE_ACTIONS)
    indexes = [i["IndexName"] for i in table_definition(NAME, deletion_protection=True)[
        "GlobalSecondaryIndexes"
    ]]  # fmt: skip
    assert statement["Resource"] == [
        {"Fn::GetAtt": [TABLE, "Arn"]},
        *({"Fn::Sub": f"${{{TABLE}.Arn}}/index/{index}"} for index in indexes),
    ]
    assert indexes == ["GSI1"]


def test_the_cli_prints_the_stack(capsys: pytest.CaptureFixture[str]) -> None:
    main(["infra-template", "--table-name", "Other"])
    printed = json.loads(capsys.readouterr().out)
    assert printed == stack_template("Other")
    assert printed["Resources"][TABLE]["Properties"]["TableName"] == "Other"
