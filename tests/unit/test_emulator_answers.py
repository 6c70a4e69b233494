"""The emulator writes the item operations' answers in one pass and json.dumps instead of
moto's conversion and shape walk (`service.dev.motoserver`, point 4): the JSON must be the same,
member for member, for the objects moto's handlers really return (its Items and DynamoTypes)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from moto.core.responses import ActionContext, ActionResult
from moto.core.serialize import get_serializer_class
from moto.core.utils import get_service_model
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.utilities import dynamo_to_dict
from moto.dynamodb.responses import DynamoHandler, DynamoResult

import service.dev.motoserver as emulator

_ATTRS: dict[str, Any] = {
    "PK": {"S": "LISTING#1"},
    "SK": {"S": "METADATA#1"},
    "price": {"N": "12.50"},
    "blob": {"B": b"\x00\xffbinary"},
    "tags": {"SS": ["a", "b"]},
    "sizes": {"NS": ["1", "2.5"]},
    "blobs": {"BS": [b"x", b"\x01"]},
    "nested": {"M": {"on": {"BOOL": True}, "gone": {"NULL": True}, "l": {"L": [{"S": "é"}]}}},
}
_ITEM = Item(DynamoType({"S": "LISTING#1"}), DynamoType({"S": "METADATA#1"}), _ATTRS)
_KEY = {"PK": DynamoType({"S": "x"}), "SK": DynamoType({"S": "y"})}
_ANSWERS: dict[str, dict[str, Any]] = {
    "GetItem": {"Item": _ITEM.attrs},
    "Query": {
        "Count": 2,
        "ScannedCount": 3,
        "Items": [_ITEM.attrs, _KEY],
        "LastEvaluatedKey": {"PK": {"S": "x"}, "SK": {"S": "y"}},
        "ConsumedCapacity": {"TableName": "t", "CapacityUnits": 1.0},
    },
    "BatchGetItem": {
        "Responses": {"t": [_ITEM.describe_attrs(attributes=None)["Item"]]},
        "UnprocessedKeys": {},
        "ConsumedCapacity": [{"CapacityUnits": 1, "TableName": "t"}],
    },
    "UpdateItem": _ITEM.to_json(),
    "PutItem": {},
    "TransactWriteItems": {},
}


def _context(operation: str) -> ActionContext:
    service_model = get_service_model("dynamodb")
    return ActionContext(
        service_model,
        service_model.operation_model(operation),
        get_serializer_class("dynamodb", "json"),
        DynamoHandler(),
    )


def _moto_writes(answer: object, context: ActionContext) -> Any:
    """What moto alone would send: its conversion, then its shape walk."""
    return emulator._moto_execute_result(ActionResult(dynamo_to_dict(answer)), context)


@pytest.mark.parametrize("operation", sorted(_ANSWERS))
def test_item_answers_are_the_json_moto_would_write(operation: str) -> None:
    context = _context(operation)
    status, headers, body = emulator.execute_result(DynamoResult(_ANSWERS[operation]), context)
    m_status, m_headers, m_body = _moto_writes(_ANSWERS[operation], context)
    assert status == m_status == 200
    assert headers == m_headers
    assert json.loads(body) == json.loads(m_body)


def test_a_binary_held_as_the_base64_text_it_was_sent_in_is_written_once_encoded() -> None:
    held = Item(
        DynamoType({"S": "a"}),
        DynamoType({"S": "b"}),
        {"PK": {"S": "a"}, "SK": {"S": "b"}, "v": {"B": "AP8="}, "vs": {"BS": ["AQ=="]}},
    )
    answer = {"Item": held.attrs}
    _, _, body = emulator.execute_result(DynamoResult(answer), _context("GetItem"))
    assert json.loads(body)["Item"]["v"] == {"B": "AP8="}
    assert json.loads(body)["Item"]["vs"] == {"BS": ["AQ=="]}
    assert json.loads(body) == json.loads(_moto_writes(answer, _context("GetItem"))[2])


def test_absent_members_are_left_out_and_other_operations_keep_moto_s_writer() -> None:
    answer = {"Item": None, "ConsumedCapacity": None}
    _, _, body = emulator.execute_result(DynamoResult(answer), _context("GetItem"))
    assert json.loads(body) == {}
    # A table description holds timestamps the shape writes its own way: moto's path.
    described = {"Table": {"TableName": "t", "CreationDateTime": 1_700_000_000.5}}
    ours = emulator.execute_result(DynamoResult(described), _context("DescribeTable"))
    assert ours == _moto_writes(described, _context("DescribeTable"))
