"""The whole stack in one CloudFormation template: the table, sign-up, the service's policy."""

from __future__ import annotations

from typing import Any

from service.aws import signup
from service.aws.iam import service_policy
from service.store.schema import index_names, table_resource

TABLE = "DirectoryTable"


def stack_template(table_name: str) -> dict[str, Any]:
    """The template for `aws cloudformation deploy`; the table comes from `table_definition`."""
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"Hustle Hub directory: table {table_name}, Cognito sign-up, IAM",
        "Parameters": {
            "LambdaCodeBucket": {
                "Type": "String",
                "Description": "S3 bucket holding the post-confirmation Lambda's zip",
            },
            "LambdaCodeKey": {
                "Type": "String",
                "Description": "S3 key of that zip (the project and its runtime dependencies)",
            },
            "CursorSecret": {
                "Type": "String",
                "NoEcho": True,
                "MinLength": 32,
                "Description": "HUSTLEHUB_CURSOR_SECRET, the same value the service runs with",
            },
        },
        "Resources": {
            TABLE: table_resource(table_name),
            **signup.resources(TABLE),
            "ServicePolicy": service_policy(TABLE, index_names(table_name)),
        },
        "Outputs": {
            "TableName": {"Value": {"Ref": TABLE}},
            "TableArn": {"Value": {"Fn::GetAtt": [TABLE, "Arn"]}},
            "StreamArn": {"Value": {"Fn::GetAtt": [TABLE, "StreamArn"]}},
            "UserPoolId": {"Value": {"Ref": "UserPool"}},
            "UserPoolClientId": {"Value": {"Ref": "UserPoolClient"}},
            "ServicePolicyArn": {
                "Description": "Attach to the role that runs `hustlehub serve`",
                "Value": {"Ref": "ServicePolicy"},
            },
        },
    }
