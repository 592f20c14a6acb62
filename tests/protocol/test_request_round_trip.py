"""Every operation of every served model, as botocore's own serializer sends it, routed and parsed by the
codec the App serves: the same operation and the same parameters must come back.

The parameters are generated from the input shape (every member, required and optional; see
shape_examples.py). What a codec may change on the way is listed in `expected_params`, each with the AWS
documentation that says so.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from botocore.model import OperationModel

from conveyor.protocol.base import parse_timestamp
from conveyor.protocol.rest_xml import RestXmlCodec
from conveyor.wire import ServiceError
from tests.protocol.codec_harness import (
    Served,
    as_carried,
    botocore_request,
    context,
    run,
    same_instant,
    served_codecs,
    shadowing_operation,
)
from tests.protocol.shape_examples import VARIANTS, Variant, structure_example

# Codec bugs these tests found, each fixed in its own commit (the entry goes with the fix).
KNOWN_BUGS = {
}
# Operations of the served models that a request cannot reach here, and what it gets instead.
NOT_SERVED = {
    # S3 Object Lambda's callback goes to its own host ({RequestRoute}.s3-object-lambda.REGION.amazonaws.com);
    # to Conveyor's endpoint it is a POST to a bucket named WriteGetObjectResponse, which S3 does not answer.
    ("s3", "WriteGetObjectResponse"): "NotImplemented",
}


def _case(served: Served, op: OperationModel, variant: Variant) -> Any:
    case_id = f"{served.id}-{op.name}-{variant.name}"
    bug = KNOWN_BUGS.get(case_id)
    marks = [pytest.mark.xfail(strict=True, reason=bug)] if bug else []
    return pytest.param(served, op, variant, id=case_id, marks=marks)


CASES = [_case(served, op, variant) for served in served_codecs() for op in served.operations()
         for variant in VARIANTS]


def _integrity_member(wire: str) -> bool:
    return wire.lower() == "content-md5" or wire.lower().startswith("x-amz-checksum-")


def generated_params(served: Served, op: OperationModel, variant: Variant) -> dict[str, Any]:
    shape = op.input_shape
    if shape is None:
        return {}
    # The HTTP layer sets Content-Length from the body: a member naming another length cannot be sent.
    members = {name: m for name, m in shape.members.items()
               if m.serialization.get("name", "").lower() != "content-length"}
    if served.service.name == "s3":
        # A digest of the body must be the body's (S3 checks it before parsing: services/s3/integrity.py);
        # the request carries a real Content-MD5 instead, as botocore's handlers add one.
        members = {name: m for name, m in members.items()
                   if not _integrity_member(m.serialization.get("name", name))}
    params = structure_example(shape, variant, members=members)
    for name, member in members.items():
        if member.serialization.get("hostLabel"):
            params[name] = "route-1"  # botocore puts it in the host name, which takes letters, digits and "-"
    return params


def s3_content_md5(body: bytes) -> dict[str, str]:
    return {"Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode()}


def expected_params(served: Served, op: OperationModel, params: dict[str, Any], sent_headers: dict[str, str],
                    sent_body: bytes) -> dict[str, Any]:
    """`params` as the codec should hand them to the operation."""
    shape = op.input_shape
    if shape is None:
        return dict(params)
    expected = as_carried(shape, params, "query-form" if served.codec.name == "query" else served.codec.name,
                          request=True)
    codec = served.codec
    for name, member in shape.members.items():
        if member.serialization.get("location") == "header" and member.serialization.get("name") == "Content-Length":
            expected[name] = len(sent_body)
        if name not in expected:
            continue
        if member.serialization.get("hostLabel"):
            # Conveyor serves one host name, the endpoint's: the only operation of the served models that
            # prefixes it (S3 Object Lambda's WriteGetObjectResponse) is not served, and no label is read.
            del expected[name]
            continue
        location = member.serialization.get("location")
        if member.serialization.get("streaming") and isinstance(codec, RestXmlCodec):
            # An object body streams to the operation, which reads ctx.request.stream() itself.
            del expected[name]
        elif location == "headers":
            # HTTP header names are case-insensitive; S3 keeps user metadata keys in lower case.
            # https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingMetadata.html#UserMetadata
            expected[name] = {key.lower(): value for key, value in expected[name].items()}
    if served.service.name == "s3":
        md5_member = next((name for name, m in shape.members.items()
                           if m.serialization.get("name", "").lower() == "content-md5"), None)
        if md5_member is not None:
            expected[md5_member] = sent_headers["Content-MD5"]
    return same_instant(expected)


def received_params(codec_params: dict[str, Any], served: Served, op: OperationModel) -> dict[str, Any]:
    received = dict(codec_params)
    codec = served.codec
    if isinstance(codec, RestXmlCodec):
        # S3 keeps `Expires` as sent, never judging its date format (API_PutObject.html): it is text here,
        # which stands for the instant botocore sent.
        for name in codec.verbatim & set(received):
            received[name] = parse_timestamp(received[name])
    return same_instant(received)


@pytest.mark.parametrize(("served", "op", "variant"), CASES)
def test_botocore_request_routes_and_parses_back(served: Served, op: OperationModel, variant: Variant) -> None:
    params = generated_params(served, op, variant)
    extra = s3_content_md5 if served.service.name == "s3" else None
    sent = botocore_request(served.codec.name, op, params, extra)
    ctx = context(sent.request)
    assert served.service.protocol_for(ctx) == served.codec.name

    async def route_and_parse() -> tuple[OperationModel, dict[str, Any]]:
        routed = await served.codec.route(ctx)
        return routed, await served.codec.parse(ctx, routed)

    refusal = NOT_SERVED.get((served.service.name, op.name))
    if refusal is not None:
        with pytest.raises(ServiceError) as raised:
            run(route_and_parse())
        assert raised.value.code == refusal
        return

    routed, parsed = run(route_and_parse())
    shadowing = shadowing_operation(served, op)
    if shadowing is not None:
        assert routed.name == shadowing.name
        return
    assert routed.name == op.name
    assert received_params(parsed, served, op) == expected_params(served, op, params, sent.headers, sent.body)
    if op.has_streaming_input and isinstance(served.codec, RestXmlCodec):
        # Left unread for the operation, and all there.
        assert sent.request.body_pending
        assert run(sent.request.body()) == variant.blob
