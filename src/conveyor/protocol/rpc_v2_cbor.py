"""The `smithy-rpc-v2-cbor` protocol: `POST /service/{Service}/operation/{Operation}` with a CBOR body
each way and `smithy-protocol: rpc-v2-cbor` on both. Current botocore speaks it to CloudWatch first.

https://smithy.io/2.0/additional-specs/protocols/smithy-rpc-v2.html
Errors are a CBOR map with `__type` (the error's shape id) and `message`; a service that moved from the
query protocol (`awsQueryCompatible`) adds `x-amzn-query-error: Code;Sender` so SDKs keep the old code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from botocore.model import OperationModel, Shape

from conveyor.protocol import cbor
from conveyor.protocol.base import Codec
from conveyor.wire import HttpResponse, RequestContext, ServiceError

CONTENT_TYPE = "application/cbor"
PROTOCOL_HEADER = ("smithy-protocol", "rpc-v2-cbor")


class WireTypeError(Exception):
    def __init__(self, path: str, expected: str) -> None:
        super().__init__(f"{path}: expected {expected}")
        self.path, self.expected = path, expected


def _serialization_error(message: str) -> ServiceError:
    return ServiceError("SerializationException", message, query_code="SerializationException")


class RpcV2CborCodec(Codec):
    name = "smithy-rpc-v2-cbor"

    async def route(self, ctx: RequestContext) -> OperationModel:
        parts = ctx.request.path.split("/")
        # "", "service", NAME, "operation", OPERATION
        if len(parts) != 5 or parts[1] != "service" or parts[3] != "operation" or ctx.request.method != "POST":
            raise ServiceError("UnknownOperationException", f"No operation at {ctx.request.path}.", 404)
        op_name = parts[4]
        if op_name not in self.model.operation_names:
            raise ServiceError("UnknownOperationException", f"Operation {op_name!r} is not supported.", 404)
        return self.model.operation_model(op_name)

    async def parse(self, ctx: RequestContext, operation: OperationModel) -> dict[str, Any]:
        raw = await ctx.request.body()
        try:
            data = cbor.decode(raw) if raw else {}
        except (cbor.CborError, RecursionError) as exc:
            raise _serialization_error(f"The request body is not valid CBOR: {exc}.")
        if not isinstance(data, dict):
            raise _serialization_error("The request body must be a CBOR map.")
        shape = operation.input_shape
        if shape is None:
            return {}
        try:
            params: dict[str, Any] = from_wire(shape, data, "")
            return params
        except WireTypeError as exc:
            raise _serialization_error(f"Unable to parse member {exc.path or shape.name}: expected {exc.expected}.")

    def serialize(self, ctx: RequestContext, operation: OperationModel, result: dict[str, Any]) -> HttpResponse:
        shape = operation.output_shape
        body = cbor.encode(to_wire(shape, result)) if shape is not None else b""
        headers = [PROTOCOL_HEADER, ("x-amzn-RequestId", ctx.request_id)]
        if body:
            headers.append(("Content-Type", CONTENT_TYPE))
        return HttpResponse(200, headers, body)

    def serialize_error(self, ctx: RequestContext, error: ServiceError) -> HttpResponse:
        namespace = self.model.metadata.get("serviceId", self.model.endpoint_prefix).lower().replace(" ", "")
        body: dict[str, Any] = {"__type": f"com.amazonaws.{namespace}#{error.code}", "message": error.message}
        body.update(error.extra)
        headers = [PROTOCOL_HEADER, ("Content-Type", CONTENT_TYPE), ("x-amzn-RequestId", ctx.request_id)]
        if "awsQueryCompatible" in self.model.metadata:
            fault = "Sender" if error.sender_fault else "Receiver"
            headers.append(("x-amzn-query-error", f"{error.query_code or error.code};{fault}"))
        headers.extend(error.headers.items())
        return HttpResponse(error.status, headers, cbor.encode(body))


def _not_null(item: Any, path: str) -> Any:
    """Collections are dense unless modelled `sparse`: a null inside one is refused (as in the JSON codec)."""
    if item is None:
        raise WireTypeError(path, "a value, not null")
    return item


def from_wire(shape: Shape, value: Any, path: str, *, millis: bool = False) -> Any:
    """A decoded CBOR value as the model's shape wants it; raises WireTypeError. Untagged timestamps are
    epoch seconds, or milliseconds with `millis` (the AWS SDK for Java's CBOR for Kinesis)."""
    if value is None:
        return None
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            raise WireTypeError(path, "a map")
        members = shape.members  # type: ignore[attr-defined]  # a StructureShape
        return {name: from_wire(members[name], item, f"{path}.{name}" if path else name, millis=millis)
                for name, item in value.items() if name in members and item is not None}
    if kind == "list":
        if not isinstance(value, list):
            raise WireTypeError(path, "an array")
        member = shape.member  # type: ignore[attr-defined]  # a ListShape
        return [from_wire(member, _not_null(item, f"{path}.{i}"), f"{path}.{i}", millis=millis) for i, item in enumerate(value, 1)]
    if kind == "map":
        if not isinstance(value, dict):
            raise WireTypeError(path, "a map")
        value_shape = shape.value  # type: ignore[attr-defined]  # a MapShape
        return {k: from_wire(value_shape, _not_null(v, f"{path}.{k}"), f"{path}.{k}", millis=millis) for k, v in value.items()}
    if kind == "timestamp":
        if isinstance(value, dt.datetime):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            try:
                return dt.datetime.fromtimestamp(value / 1000 if millis else value, dt.UTC)
            except (OverflowError, OSError, ValueError):
                raise WireTypeError(path, "a timestamp")
        raise WireTypeError(path, "a timestamp")
    if kind == "blob" and not isinstance(value, bytes):
        raise WireTypeError(path, "a byte string")
    if kind == "string" and not isinstance(value, str):
        raise WireTypeError(path, "a text string")
    if kind == "boolean" and not isinstance(value, bool):
        raise WireTypeError(path, "a boolean")
    if kind in ("integer", "long", "short", "byte"):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise WireTypeError(path, "an integer")
    if kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise WireTypeError(path, "a number")
        return float(value)
    return value


def to_wire(shape: Shape, value: Any, timestamp: Callable[[dt.datetime], Any] = lambda moment: moment) -> Any:
    """A result as CBOR carries it; `timestamp` writes a timestamp (default: tag 1, epoch seconds)."""
    kind = shape.type_name
    if kind == "structure":
        members = shape.members  # type: ignore[attr-defined]  # a StructureShape
        return {name: to_wire(members[name], item, timestamp) for name, item in value.items()
                if item is not None and name in members}
    if kind == "list":
        member = shape.member  # type: ignore[attr-defined]  # a ListShape
        return [to_wire(member, item, timestamp) for item in value]
    if kind == "map":
        value_shape = shape.value  # type: ignore[attr-defined]  # a MapShape
        return {k: to_wire(value_shape, v, timestamp) for k, v in value.items()}
    if kind == "timestamp":
        return timestamp(value if isinstance(value, dt.datetime) else dt.datetime.fromtimestamp(float(value), dt.UTC))
    if kind in ("float", "double"):
        return float(value)
    if kind == "blob" and isinstance(value, str):
        return value.encode()
    return value
