"""The JSON writers built per shape (conveyor.protocol.json_writer) write what the model walk they replace
wrote, value for value: every output shape of every served JSON model, with generated results (full and
empty), with extra members the shape does not have and None members (both left out), and with a
service's own shape hooks (DynamoDB's AttributeValue)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from conveyor.protocol.base import b64encode, format_timestamp
from conveyor.protocol.json_writer import to_json
from tests.protocol.codec_harness import served_codecs
from tests.protocol.shape_examples import VARIANTS, structure_example


def model_walk(shape: Shape, value: Any, hooks: Mapping[str, Callable[[Any], Any]]) -> Any:
    """The walk the JSON codecs ran for every answer before they had writers."""
    hook = hooks.get(shape.name)
    if hook is not None:
        return hook(value)
    if isinstance(shape, StructureShape):
        members = shape.members
        return {members[name].serialization.get("name", name): model_walk(members[name], item, hooks)
                for name, item in value.items() if item is not None and name in members}
    if isinstance(shape, ListShape):
        return [model_walk(shape.member, item, hooks) for item in value]
    if isinstance(shape, MapShape):
        return {k: model_walk(shape.value, v, hooks) for k, v in value.items()}
    if shape.type_name == "blob":
        return b64encode(value if isinstance(value, bytes) else str(value).encode())
    if shape.type_name == "timestamp":
        return format_timestamp(value, shape, "unixTimestamp")
    return value


def _with_extras(shape: Shape, value: Any, hooks: Mapping[str, Any]) -> Any:
    """Members the shape does not have, and None members, added to every structure a service does not write
    itself."""
    if shape.name in hooks or value is None:
        return value
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        members = shape.members
        return {**{k: _with_extras(members[k], v, hooks) if k in members else v for k, v in value.items()},
                "NotAMember": "x", "Nothing": None}
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [_with_extras(shape.member, v, hooks) for v in value]
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return {k: _with_extras(shape.value, v, hooks) for k, v in value.items()}
    return value


def test_writers_write_what_the_model_walk_wrote() -> None:
    compared = 0
    for served in served_codecs():
        codec = served.codec
        if codec.name not in ("json", "rest-json"):
            continue
        hooks: Mapping[str, Callable[[Any], Any]] = getattr(codec, "shape_writers", {})
        for name in codec.model.operation_names:
            shape = codec.model.operation_model(name).output_shape
            if shape is None:
                continue
            for variant in VARIANTS:
                result = structure_example(shape, variant)
                for value in (result, _with_extras(shape, result, hooks)):
                    expected = model_walk(shape, value, hooks)
                    assert to_json(shape, value, hooks) == expected, (codec.model.service_name, name, variant.name)
                    compared += 1
    assert compared > 1000, compared


def test_lists_given_as_tuples_or_sets_are_written_as_lists_and_timestamps_as_epoch_seconds() -> None:
    served = next(s for s in served_codecs() if s.codec.model.service_name == "sqs" and s.codec.name == "json")
    model = served.codec.model
    listed = model.operation_model("ListQueues").output_shape
    assert to_json(listed, {"QueueUrls": ("a", "b")}, {}) == {"QueueUrls": ["a", "b"]}
    logs = next(s for s in served_codecs() if s.codec.model.service_name == "logs")
    groups = logs.codec.model.operation_model("DescribeLogGroups").output_shape
    written = to_json(groups, {"logGroups": [{"logGroupName": "g", "creationTime": 5}]}, {})
    assert written == {"logGroups": [{"logGroupName": "g", "creationTime": 5}]}
    kinesis = next(s for s in served_codecs() if s.codec.model.service_name == "kinesis")
    stream = kinesis.codec.model.operation_model("DescribeStreamSummary").output_shape
    created = dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.UTC)
    summary = to_json(stream, {"StreamDescriptionSummary": {"StreamName": "s", "StreamCreationTimestamp": created}}, {})
    assert summary["StreamDescriptionSummary"]["StreamCreationTimestamp"] == created.timestamp()
