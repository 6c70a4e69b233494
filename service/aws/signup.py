"""Sign-up: the Cognito user pool, its app client, and the post-confirmation Lambda
(`service.aws.registration.handler`) that creates a new user's profile, with a role of its own."""

from __future__ import annotations

from typing import Any

from service.aws.iam import POLICY_VERSION, REGISTRATION_ACTIONS, allow, table_arn

HANDLER = "service.aws.registration.handler"
RUNTIME = "python3.12"
FUNCTION_NAME = "${AWS::StackName}-post-confirmation"
LOG_RETENTION_DAYS = 30


def _assume_role(service: str) -> dict[str, Any]:
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
        ],
    }


def resources(table: str) -> dict[str, Any]:
    """The sign-up resources, reading and writing the table resource named `table`."""
    return {
        # Named up front so the role can be limited to it without depending on the function.
        "PostConfirmationLogs": {
            "Type": "AWS::Logs::LogGroup",
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
            "Properties": {
                "LogGroupName": {"Fn::Sub": f"/aws/lambda/{FUNCTION_NAME}"},
                "RetentionInDays": LOG_RETENTION_DAYS,
            },
        },
        "PostConfirmationRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "Description": "Hustle Hub post-confirmation trigger: profile writes, its logs",
                "AssumeRolePolicyDocument": _assume_role("lambda.amazonaws.com"),
                "Policies": [
                    {
                        "PolicyName": "create-profile",
                        "PolicyDocument": {
                            "Version": POLICY_VERSION,
                            "Statement": [
                                allow(REGISTRATION_ACTIONS, [table_arn(table)], sid="Profiles"),
                                allow(
                                    ("logs:CreateLogStream", "logs:PutLogEvents"),
                                    [table_arn("PostConfirmationLogs")],
                                    sid="Logs",
                                ),
                            ],
                        },
                    }
                ],
            },
        },
        "PostConfirmationFunction": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "FunctionName": {"Fn::Sub": FUNCTION_NAME},
                "Description": "Creates the Hustle Hub profile of a user who confirmed sign-up",
                "Runtime": RUNTIME,
                "Handler": HANDLER,
                "Code": {
                    "S3Bucket": {"Ref": "LambdaCodeBucket"},
                    "S3Key": {"Ref": "LambdaCodeKey"},
                },
                "Role": {"Fn::GetAtt": ["PostConfirmationRole", "Arn"]},
                "MemorySize": 256,
                # Cognito waits at most 5 s for a trigger and retries it; the write is idempotent.
                "Timeout": 5,
                "LoggingConfig": {"LogGroup": {"Ref": "PostConfirmationLogs"}},
                "Environment": {
                    "Variables": {
                        "HUSTLEHUB_MODE": "production",
                        "HUSTLEHUB_TABLE_NAME": {"Ref": table},
                        "HUSTLEHUB_AWS_REGION": {"Ref": "AWS::Region"},
                        "HUSTLEHUB_COGNITO_REGION": {"Ref": "AWS::Region"},
                        "HUSTLEHUB_CURSOR_SECRET": {"Ref": "CursorSecret"},
                        # Production settings require app client ids. The trigger verifies no
                        # token, and the real id cannot be passed in: the client depends on the
                        # pool, which depends on this function.
                        "HUSTLEHUB_COGNITO_APP_CLIENT_IDS": "post-confirmation-trigger",
                    }
                },
            },
        },
        "PostConfirmationPermission": {
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "Action": "lambda:InvokeFunction",
                "FunctionName": {"Fn::GetAtt": ["PostConfirmationFunction", "Arn"]},
                "Principal": "cognito-idp.amazonaws.com",
                "SourceArn": {"Fn::GetAtt": ["UserPool", "Arn"]},
                "SourceAccount": {"Ref": "AWS::AccountId"},
            },
        },
        "UserPool": {
            "Type": "AWS::Cognito::UserPool",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "UserPoolName": {"Fn::Sub": "${AWS::StackName}-users"},
                "UsernameAttributes": ["email"],
                "AutoVerifiedAttributes": ["email"],
                "DeletionProtection": "ACTIVE",
                "AccountRecoverySetting": {
                    "RecoveryMechanisms": [{"Name": "verified_email", "Priority": 1}]
                },
                "Policies": {
                    "PasswordPolicy": {
                        "MinimumLength": 12,
                        "RequireLowercase": True,
                        "RequireUppercase": True,
                        "RequireNumbers": True,
                        "RequireSymbols": False,
                    }
                },
                "LambdaConfig": {
                    "PostConfirmation": {"Fn::GetAtt": ["PostConfirmationFunction", "Arn"]}
                },
            },
        },
        "UserPoolClient": {
            "Type": "AWS::Cognito::UserPoolClient",
            "Properties": {
                "ClientName": {"Fn::Sub": "${AWS::StackName}-web"},
                "UserPoolId": {"Ref": "UserPool"},
                "GenerateSecret": False,
                "ExplicitAuthFlows": ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
                "PreventUserExistenceErrors": "ENABLED",
            },
        },
    }
