"""DynamoDB's codec reads and writes AttributeValues itself (conveyor.services.dynamodb.codec), skipping
the model walk: what it reads and writes must be exactly what the walk does, errors included."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conveyor.protocol.json_reader import _WireTypeError
from conveyor.protocol.json_rpc import _from_json, _to_json
from conveyor.protocol.models import service_model
from conveyor.services.dynamodb.codec import READERS, WRITERS

ITEM: dict[str, Any] = {
    "s": {"S": "héllo"}, "n": {"N": "-1.5"}, "b": {"B": b"\x00\xff\x10"}, "empty_b": {"B": b""},
    "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2.5"]}, "bs": {"BS": [b"\x01", b"\x02\x03"]},
    "null": {"NULL": True}, "bool": {"BOOL": False},
    "m": {"M": {"inner": {"B": b"\x07"}, "deep": {"L": [{"BS": [b"x"]}, {"M": {"z": {"N": "3"}}}, {"S": ""}]}}},
    "l": {"L": [{"B": b"\x08"}, {"L": []}, {"M": {}}]},
}


def test_attribute_values_written_as_the_model_walk_writes_them() -> None:
    for service, operation, result in (
        ("dynamodb", "GetItem", {"Item": ITEM}),
        ("dynamodb", "Query", {"Items": [ITEM, ITEM], "Count": 2, "ScannedCount": 2, "LastEvaluatedKey": ITEM}),
        ("dynamodbstreams", "GetRecords", {"Records": [{"dynamodb": {"Keys": ITEM, "NewImage": ITEM}}]}),
    ):
        shape = service_model(service).operation_model(operation).output_shape
        assert shape is not None
        walked = json.dumps(_to_json(shape, result), sort_keys=True)
        written = json.dumps(_to_json(shape, result, WRITERS), sort_keys=True)
        assert written == walked
        assert '"B": "AP8Q"' in written  # binary really went through base64 on both paths


WIRE_ITEMS: list[dict[str, Any]] = [
    {"s": {"S": "héllo"}, "n": {"N": "1"}, "ss": {"SS": ["a", ""]}, "ns": {"NS": []}, "t": {"BOOL": True},
     "z": {"NULL": True}, "b": {"B": "AP8Q"}, "m": {"M": {"x": {"S": "y"}, "l": {"L": [{"N": "2"}, {"B": "AQ=="}]}}}},
    {"s": {"S": None}}, {"s": {}}, {"s": {"S": "a", "N": "1"}}, {"s": {"X": "a"}},
    {"s": {"S": 5}}, {"n": {"N": 1.5}}, {"ss": {"SS": ["a", None]}}, {"ss": {"SS": "a"}}, {"t": {"BOOL": "true"}},
    {"s": {"S": "\ud800"}}, {"ss": {"SS": ["\udfff"]}}, {"b": {"B": "not base64!"}}, {"s": "a string"},
    {"s": None}, {"\ud800": {"S": "a"}}, {"é": {"S": "ü \u2028"}, "n": {"NS": ["1", "é"]}}, {},
    {"s": {"S": "é\udc00"}}, {"n": {"N": "1"}, "s": {"S": "a"}, "bad": {"S": 1}},
]


@pytest.mark.parametrize("wire", WIRE_ITEMS)
def test_attribute_values_read_as_the_model_walk_reads_them(wire: dict[str, Any]) -> None:
    shape = service_model("dynamodb").operation_model("PutItem").input_shape
    assert shape is not None
    request = {"TableName": "t", "Item": wire}
    outcomes = []
    for readers in ({}, READERS):
        try:
            outcomes.append(("read", _from_json(shape, request, "", readers)))
        except _WireTypeError as exc:
            outcomes.append(("refused", (exc.path, exc.expected)))
    assert outcomes[0] == outcomes[1]


@pytest.mark.parametrize("wire", WIRE_ITEMS)
def test_keys_and_placeholder_values_read_as_the_model_walk_reads_them(wire: dict[str, Any]) -> None:
    """DynamoDB's codec reads an Item, a Key and ExpressionAttributeValues a map at a time: the same."""
    model = service_model("dynamodb")
    for operation, request in (("GetItem", {"TableName": "t", "Key": wire}),
                               ("UpdateItem", {"TableName": "t", "Key": {"k": {"S": "a"}},
                                               "ExpressionAttributeValues": wire}),
                               ("BatchWriteItem", {"RequestItems": {"t": [{"PutRequest": {"Item": wire}},
                                                                          {"DeleteRequest": {"Key": wire}}]}})):
        shape = model.operation_model(operation).input_shape
        assert shape is not None
        outcomes = []
        for readers in ({}, READERS):
            try:
                outcomes.append(("read", _from_json(shape, json.loads(json.dumps(request)), "", readers)))
            except _WireTypeError as exc:
                outcomes.append(("refused", (exc.path, exc.expected)))
        assert outcomes[0] == outcomes[1], operation


ITEM_ON_WIRE = {"k": {"S": "a"}, "n": {"N": "1"}}
WRITE_LISTS: list[Any] = [
    [{"PutRequest": {"Item": ITEM_ON_WIRE}}, {"DeleteRequest": {"Key": {"k": {"S": "b"}}}}],
    [{"PutRequest": {"Item": ITEM_ON_WIRE, "Extra": 1}}], [{"PutRequest": {"Item": ITEM_ON_WIRE}, "Unknown": {}}],
    [{"PutRequest": {"Item": ITEM_ON_WIRE}, "DeleteRequest": {"Key": ITEM_ON_WIRE}}], [{"PutRequest": None}],
    [{"PutRequest": {"Key": ITEM_ON_WIRE}}], [{"DeleteRequest": {"Item": ITEM_ON_WIRE}}], [{"PutRequest": {}}],
    [{"PutRequest": {"Item": None}}], [{"PutRequest": {"Item": {"k": {"S": 5}}}}], [{"PutRequest": []}],
    [None], [{}], ["a write"], {"PutRequest": {"Item": ITEM_ON_WIRE}}, [], "writes",
    [{"PutRequest": {"Item": {"b": {"B": "AP8Q"}}}}], [{"DeleteRequest": {"Key": {"\ud800": {"S": "a"}}}}],
]


@pytest.mark.parametrize("writes", WRITE_LISTS)
def test_batch_write_lists_read_as_the_model_walk_reads_them(writes: Any) -> None:
    """DynamoDB's codec reads a BatchWriteItem table's writes a list at a time: the same, errors included."""
    shape = service_model("dynamodb").operation_model("BatchWriteItem").input_shape
    assert shape is not None
    outcomes = []
    for readers in ({}, READERS):
        try:
            outcomes.append(("read", _from_json(shape, {"RequestItems": {"t": json.loads(json.dumps(writes))}}, "",
                                                readers)))
        except _WireTypeError as exc:
            outcomes.append(("refused", (exc.path, exc.expected)))
    assert outcomes[0] == outcomes[1]
