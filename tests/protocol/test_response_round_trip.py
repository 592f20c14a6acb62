"""Every operation of every served model with an output: a result the codec serializes must read back,
through botocore's own parser, as the same result, and every error must reach the client with its code
and message.

Results are generated from the output shape (every member; see shape_examples.py). What may change on the
way is listed in `expected_result`, each with the AWS documentation that says so.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from botocore.handlers import parse_get_bucket_location
from botocore.model import OperationModel

from conveyor.wire import Headers, HttpRequest, ServiceError
from tests.protocol.codec_harness import (
    Served,
    as_carried,
    botocore_parse,
    context,
    same_instant,
    served_codecs,
    shadowing_operation,
)
from tests.protocol.shape_examples import VARIANTS, Variant, structure_example

# Event streams (S3 SelectObjectContent, Lambda InvokeWithResponseStream) are a framing of their own that
# Conveyor does not serve: those operations answer NotImplemented, through the error path tested below.
# A deprecated operation whose request is that of its replacement is answered as the replacement
# (codec_harness.shadowing_operation): its own output is never sent.
CASES = [pytest.param(served, op, variant, id=f"{served.id}-{op.name}-{variant.name}") for served in served_codecs()
         for op in served.operations() if op.output_shape is not None and not op.has_event_stream_output
         and shadowing_operation(served, op) is None for variant in VARIANTS]


def _request(served: Served) -> HttpRequest:
    return HttpRequest(method="GET" if served.codec.name == "rest-xml" else "POST", path="/", query_string="",
                       headers=Headers([("Host", "127.0.0.1:4566")]))


def generated_result(op: OperationModel, variant: Variant) -> dict[str, Any]:
    shape = op.output_shape
    assert shape is not None
    result = structure_example(shape, variant)
    for name, member in shape.members.items():
        if member.serialization.get("location") == "statusCode":
            result[name] = 200  # a status a client reads as success
    return result


def expected_result(served: Served, op: OperationModel, result: dict[str, Any]) -> dict[str, Any]:
    shape = op.output_shape
    assert shape is not None
    expected = as_carried(shape, result, "query-xml" if served.codec.name == "query" else served.codec.name,
                          request=False)
    for name, member in shape.members.items():
        if name in expected and member.serialization.get("location") == "headers":
            # HTTP header names are case-insensitive; S3 answers user metadata keys in lower case.
            # https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingMetadata.html#UserMetadata
            expected[name] = {key.lower(): value for key, value in expected[name].items()}
    return same_instant(expected)


def read_back(served: Served, op: OperationModel, parsed: dict[str, Any], body: bytes) -> dict[str, Any]:
    if served.service.name == "s3" and op.name == "GetBucketLocation":
        # Its output cannot be modelled (the document is the bare <LocationConstraint>): botocore reads it
        # with a handler of its own, run here as a client runs it.
        parse_get_bucket_location(parsed, SimpleNamespace(raw=True, content=body))
    shape = op.output_shape
    assert shape is not None
    for name, member in shape.members.items():
        if name in parsed and member.serialization.get("location") == "headers":
            parsed[name] = {key.lower(): value for key, value in parsed[name].items()}
            if not parsed[name]:
                del parsed[name]  # botocore reads no `x-amz-meta-*` header as {}: nothing was sent
    return same_instant(parsed)


@pytest.mark.parametrize(("served", "op", "variant"), CASES)
def test_serialized_result_reads_back_through_botocore(served: Served, op: OperationModel, variant: Variant) -> None:
    result = generated_result(op, variant)
    response = served.codec.serialize(context(_request(served)), op, dict(result))
    assert response.status < 300
    parsed, body = botocore_parse(served.codec.name, op, response)
    assert read_back(served, op, parsed, body) == expected_result(served, op, result)


ERROR_CASES = [pytest.param(served, id=served.id) for served in served_codecs()]


@pytest.mark.parametrize("served", ERROR_CASES)
@pytest.mark.parametrize(("status", "sender"), [(400, True), (404, True), (503, False)])
def test_errors_reach_botocore_with_code_and_message(served: Served, status: int, sender: bool) -> None:
    op = served.operations()[0]
    error = ServiceError("SomethingWentWrong", "It went <wrong> & \"stayed\" wrong: é", status, sender_fault=sender)
    response = served.codec.serialize_error(context(_request(served)), error)
    assert response.status == status
    parsed, _ = botocore_parse(served.codec.name, op, response)
    assert parsed["Error"]["Code"] == "SomethingWentWrong"
    assert parsed["Error"]["Message"] == "It went <wrong> & \"stayed\" wrong: é"
