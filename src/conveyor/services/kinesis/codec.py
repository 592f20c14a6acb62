"""Kinesis in CBOR: the AWS SDK for Java (v1, and v2 unless CBOR is turned off) sends Kinesis's JSON 1.1
requests with a CBOR body, `Content-Type: application/x-amz-cbor-1.1` and the same `X-Amz-Target`, and
expects CBOR back. Blobs are byte strings (no base64); timestamps are tag 1 holding epoch milliseconds, not
the seconds RFC 8949 says (aws/aws-sdk-java-v2 issue 4661). botocore sends JSON.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from botocore.model import OperationModel, Shape

from conveyor.protocol import cbor
from conveyor.protocol.json_rpc import JsonCodec
from conveyor.wire import HttpResponse, RequestContext, ServiceError

CBOR_CONTENT_TYPE = "application/x-amz-cbor-1.1"


class _WireTypeError(Exception):
    def __init__(self, path: str, expected: str) -> None:
        super().__init__(f"{path}: expected {expected}")
        self.path, self.expected = path, expected


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
            params: dict[str, Any] = _from_wire(shape, data, "")
            return params
        except _WireTypeError as exc:
            raise ServiceError("SerializationException",
                               f"Unable to parse member {exc.path or shape.name}: expected {exc.expected}.")

    def serialize(self, ctx: RequestContext, operation: OperationModel, result: dict[str, Any]) -> HttpResponse:
        shape = operation.output_shape
        body = cbor.encode(_to_wire(shape, result) if shape is not None and result else {})
        return HttpResponse(200, [("Content-Type", CBOR_CONTENT_TYPE), ("x-amzn-RequestId", ctx.request_id)], body)

    def serialize_error(self, ctx: RequestContext, error: ServiceError) -> HttpResponse:
        body: dict[str, Any] = {"__type": error.code, "message": error.message}
        body.update(error.extra)
        headers = [("Content-Type", CBOR_CONTENT_TYPE), ("x-amzn-RequestId", ctx.request_id),
                   ("x-amzn-ErrorType", error.code)]
        headers.extend(error.headers.items())
        return HttpResponse(error.status, headers, cbor.encode(body))


def _from_wire(shape: Shape, value: Any, path: str) -> Any:
    if value is None:
        return None
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            raise _WireTypeError(path, "a map")
        members = shape.members  # type: ignore[attr-defined]  # a StructureShape
        return {name: _from_wire(members[name], item, f"{path}.{name}" if path else name)
                for name, item in value.items() if name in members and item is not None}
    if kind == "list":
        if not isinstance(value, list):
            raise _WireTypeError(path, "an array")
        member = shape.member  # type: ignore[attr-defined]  # a ListShape
        return [_from_wire(member, item, f"{path}.{i}") for i, item in enumerate(value, 1)]
    if kind == "map":
        if not isinstance(value, dict):
            raise _WireTypeError(path, "a map")
        value_shape = shape.value  # type: ignore[attr-defined]  # a MapShape
        return {k: _from_wire(value_shape, v, f"{path}.{k}") for k, v in value.items()}
    if kind == "timestamp":
        if isinstance(value, dt.datetime):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):  # untagged: milliseconds as well
            try:
                return dt.datetime.fromtimestamp(value / 1000, dt.UTC)
            except (OverflowError, OSError, ValueError):
                raise _WireTypeError(path, "a timestamp")
        raise _WireTypeError(path, "a timestamp")
    if kind == "blob" and not isinstance(value, bytes):
        raise _WireTypeError(path, "a byte string")
    if kind == "string" and not isinstance(value, str):
        raise _WireTypeError(path, "a text string")
    if kind == "boolean" and not isinstance(value, bool):
        raise _WireTypeError(path, "a boolean")
    if kind in ("integer", "long") and (isinstance(value, bool) or not isinstance(value, int)):
        raise _WireTypeError(path, "an integer")
    return value


def _to_wire(shape: Shape, value: Any) -> Any:
    kind = shape.type_name
    if kind == "structure":
        members = shape.members  # type: ignore[attr-defined]  # a StructureShape
        return {name: _to_wire(members[name], item) for name, item in value.items()
                if item is not None and name in members}
    if kind == "list":
        member = shape.member  # type: ignore[attr-defined]  # a ListShape
        return [_to_wire(member, item) for item in value]
    if kind == "map":
        value_shape = shape.value  # type: ignore[attr-defined]  # a MapShape
        return {k: _to_wire(value_shape, v) for k, v in value.items()}
    if kind == "timestamp":
        seconds = value.timestamp() if isinstance(value, dt.datetime) else float(value)
        return cbor.EpochMillis(round(seconds * 1000))
    if kind == "blob" and isinstance(value, str):
        return value.encode()
    return value
