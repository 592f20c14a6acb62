"""DynamoDB's codec writes AttributeValues itself (conveyor.services.dynamodb.codec.wire_value), skipping
the model walk: its JSON must be exactly what the walk writes, for every kind of value."""

from __future__ import annotations

import json
from typing import Any

from conveyor.protocol.json_rpc import _to_json
from conveyor.protocol.models import service_model
from conveyor.services.dynamodb.codec import WRITERS

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
