"""Kinesis in CBOR: the AWS SDK for Java (v1, and v2 unless CBOR is turned off) sends Kinesis's JSON 1.1
requests with a CBOR body, `Content-Type: application/x-amz-cbor-1.1` and the same `X-Amz-Target`, and
expects CBOR back. Blobs are byte strings (no base64); timestamps are tag 1 holding epoch milliseconds, not
the seconds RFC 8949 says (aws/aws-sdk-java-v2 issue 4661). botocore sends JSON.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from botocore.model import OperationModel

from conveyor.protocol import cbor
from conveyor.protocol.json_rpc import JsonCodec
from conveyor.protocol.rpc_v2_cbor import WireTypeError, from_wire, to_wire
from conveyor.wire import HttpResponse, RequestContext, ServiceError

CBOR_CONTENT_TYPE = "application/x-amz-cbor-1.1"


class AwsCborCodec(JsonCodec):
    """Routed as JSON 1.1 (by X-Amz-Target); bodies in CBOR."""

    name = "cbor"

    async def parse(self, ctx: RequestContext, operation: OperationModel) -> dict[str, Any]:
        raw = await ctx.request.body()
        try:
            data = cbor.decode(raw, epoch_millis=True) if raw else {}
        except (cbor.CborError, RecursionError) as exc:
            raise ServiceError("SerializationException", f"The request body is not valid CBOR: {exc}.")
        if not isinstance(data, dict):
            raise ServiceError("SerializationException", "The request body must be a CBOR map.")
        shape = operation.input_shape
        if shape is None:
            return {}
        try:
            params: dict[str, Any] = from_wire(shape, data, "", millis=True)
            return params
        except WireTypeError as exc:
            raise ServiceError("SerializationException",
                               f"Unable to parse member {exc.path or shape.name}: expected {exc.expected}.")

    def serialize(self, ctx: RequestContext, operation: OperationModel, result: dict[str, Any]) -> HttpResponse:
        shape = operation.output_shape
        body = cbor.encode(to_wire(shape, result, _epoch_millis) if shape is not None and result else {})
        return HttpResponse(200, [("Content-Type", CBOR_CONTENT_TYPE), ("x-amzn-RequestId", ctx.request_id)], body)

    def serialize_error(self, ctx: RequestContext, error: ServiceError) -> HttpResponse:
        body: dict[str, Any] = {"__type": error.code, "message": error.message}
        body.update(error.extra)
        headers = [("Content-Type", CBOR_CONTENT_TYPE), ("x-amzn-RequestId", ctx.request_id),
                   ("x-amzn-ErrorType", error.code)]
        headers.extend(error.headers.items())
        return HttpResponse(error.status, headers, cbor.encode(body))


def _epoch_millis(moment: dt.datetime) -> cbor.EpochMillis:
    return cbor.EpochMillis(round(moment.timestamp() * 1000))
