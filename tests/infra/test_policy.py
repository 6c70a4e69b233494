"""The IAM the stack grants equals what the code calls: derived from the code for the service's
task role, observed on the wire for the post-confirmation Lambda's role."""

from __future__ import annotations

import ast
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from service.aws.iam import REGISTRATION_ACTIONS, SERVICE_ACTIONS, STREAM_ACTIONS
from service.aws.infra.stage import Stage
from service.aws.registration import create_profile
from service.config import Settings
from tests.infra.codescan import ScanError, calls_in, dynamodb_calls, iam_actions
from tests.infra.synth import STAGES, Synthesised, Template, one, props, resources

# The legacy phases' operator commands (`hustlehub migrate reconcile|link-users`) sit in the
# package the app imports (service.transition's one surface), but `serve` never runs them: the
# service's policy is not theirs (`reconcile --prune` scans a load batch).
OPERATOR_COMMANDS = frozenset({"service.transition.commands"})


def role_statements(template: Template, role: str) -> list[dict[str, Any]]:
    """Every statement granted to `role`: its inline policies and the policies attached to it."""
    found = [
        statement
        for policy in template["Resources"][role]["Properties"].get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ]
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"]["Roles"]:
            found.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return found


def actions(statements: list[dict[str, Any]], prefix: str) -> set[str]:
    granted: set[str] = set()
    for statement in statements:
        listed = statement["Action"]
        granted.update([listed] if isinstance(listed, str) else listed)
    return {action for action in granted if action.startswith(prefix)}


def task_role(template: Template) -> str:
    roles = {
        str(definition["Properties"]["TaskRoleArn"]["Fn::GetAtt"][0])
        for definition in resources(template, "AWS::ECS::TaskDefinition").values()
    }
    (role,) = roles  # the web and the streams tasks run the same code with one role
    return role


def test_the_code_calls_what_the_action_lists_say() -> None:
    calls = dynamodb_calls("service.app", leave_out=OPERATOR_COMMANDS)
    # The scan really walked the storage layer, the readiness probe, the stream consumer and
    # the legacy phases' writes to DynamoDB.
    assert {
        "service.store.table",
        "service.store.txn",
        "service.runtime.lifecycle",
        "service.transition.mirror",
        "service.streams.consumer",
    } <= calls.modules
    assert set(SERVICE_ACTIONS) == iam_actions(calls)
    assert len(SERVICE_ACTIONS) == len(set(SERVICE_ACTIONS))
    assert set(STREAM_ACTIONS) == {f"dynamodb:{op}" for op in calls.stream_operations}


@STAGES
def test_the_task_role_grants_exactly_what_the_app_calls(
    synthesised: Synthesised, stage: Stage
) -> None:
    template = synthesised.of(stage)
    role = task_role(template)
    statements = role_statements(template, role)
    calls = dynamodb_calls("service.app", leave_out=OPERATOR_COMMANDS)
    stream = {f"dynamodb:{op}" for op in calls.stream_operations}
    assert actions(statements, "dynamodb:") == iam_actions(calls) | stream
    # Besides DynamoDB, only what the metrics agent beside the consumer writes to its log group.
    assert actions(statements, "") - actions(statements, "dynamodb:") == {
        "logs:CreateLogStream",
        "logs:DescribeLogStreams",
        "logs:PutLogEvents",
    }
    table, _ = one(template, "AWS::DynamoDB::Table")
    by_sid = {s.get("Sid"): s for s in statements}
    assert by_sid["DirectoryTable"]["Resource"] == [
        {"Fn::GetAtt": [table, "Arn"]},
        {"Fn::Join": ["", [{"Fn::GetAtt": [table, "Arn"]}, "/index/GSI1"]]},
    ]
    assert by_sid["DirectoryTableStream"]["Resource"] == {"Fn::GetAtt": [table, "StreamArn"]}
    assert "ManagedPolicyArns" not in template["Resources"][role]["Properties"]


@STAGES
def test_the_trigger_role_grants_the_table_calls_it_makes_and_no_more(
    synthesised: Synthesised, stage: Stage
) -> None:
    template = synthesised.of(stage)
    role = props(template, "AWS::Lambda::Function", "PostConfirmation")["Role"]["Fn::GetAtt"][0]
    statements = role_statements(template, role)
    assert actions(statements, "dynamodb:") == set(REGISTRATION_ACTIONS)
    table, _ = one(template, "AWS::DynamoDB::Table")
    (profiles,) = [s for s in statements if s.get("Sid") == "Profiles"]
    assert profiles["Resource"] == {"Fn::GetAtt": [table, "Arn"]}
    # No AWS-managed catch-all (AWSLambdaBasicExecutionRole writes to every log group).
    assert "ManagedPolicyArns" not in template["Resources"][role]["Properties"]


def _trees(source: str) -> dict[str, ast.Module]:
    return {"service.example": ast.parse(source)}


def test_the_scan_sees_a_new_call_and_its_iam_action() -> None:
    calls = calls_in(
        _trees(
            "async def f(table, client):\n"
            "    await table.call('Scan', Limit=1)\n"
            "    await client.update_time_to_live(TableName='t')\n"
        )
    )
    assert calls.operations == {"Scan", "UpdateTimeToLive"}
    assert iam_actions(calls) == {"dynamodb:Scan", "dynamodb:UpdateTimeToLive"}
    assert not iam_actions(calls) <= set(SERVICE_ACTIONS)


def test_the_scan_refuses_a_call_it_cannot_read() -> None:
    with pytest.raises(ScanError, match="computed operation"):
        calls_in(_trees("async def f(table, op):\n    await table.call(op)\n"))


class _Recorder:
    """An HTTP hop in front of moto that notes each DynamoDB operation (X-Amz-Target)."""

    def __init__(self, upstream: str, session: aiohttp.ClientSession) -> None:
        self.upstream = upstream
        self.session = session
        self.operations: list[str] = []

    async def forward(self, request: web.Request) -> web.Response:
        target = request.headers.get("X-Amz-Target", "")
        self.operations.append(target.rpartition(".")[2])
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        async with self.session.request(
            request.method, self.upstream + request.path_qs, headers=headers,
            data=await request.read(),
        ) as answer:  # fmt: skip
            body = await answer.read()
            keep = {"Content-Type", "x-amzn-RequestId", "x-amz-crc32"}
            return web.Response(
                status=answer.status,
                body=body,
                headers={k: v for k, v in answer.headers.items() if k in keep},
            )


@pytest.fixture
async def recorder(moto_endpoint: str) -> AsyncIterator[tuple[_Recorder, str]]:
    async with aiohttp.ClientSession() as session:
        hop = _Recorder(moto_endpoint, session)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", hop.forward)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        try:
            yield hop, str(server.make_url("")).rstrip("/")
        finally:
            await server.close()


def _event(sub: str) -> dict[str, Any]:
    return {
        "triggerSource": "PostConfirmation_ConfirmSignUp",
        "request": {"userAttributes": {"sub": sub, "email": "new@example.test"}},
    }


async def test_the_lambda_role_grants_exactly_what_the_trigger_calls(
    settings: Settings, recorder: tuple[_Recorder, str]
) -> None:
    hop, url = recorder
    through = settings.model_copy(update={"dynamodb_endpoint": url})
    sub = str(uuid.uuid4())
    assert await create_profile(_event(sub), through) is True
    first = set(hop.operations)
    # Cognito retries a trigger: the second run finds the profile and reads it back.
    assert await create_profile(_event(sub), through) is False
    assert first == {"PutItem", "GetItem"}
    assert {f"dynamodb:{op}" for op in hop.operations} == set(REGISTRATION_ACTIONS)
