"""The `json` protocol (JSON 1.0/1.1 RPC): `X-Amz-Target: Prefix.Operation`, a JSON body each way."""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from botocore.model import OperationModel, ServiceModel, Shape

from conveyor.protocol.base import Codec
from conveyor.protocol.json_reader import _WireTypeError, from_json
from conveyor.protocol.json_writer import to_json
from conveyor.wire import HttpResponse, RequestContext, ServiceError


class JsonCodec(Codec):
    name = "json"
    # Shapes (by name) a service writes itself, faster than the model walk: a function from the value to
    # its JSON form, which must be what the walk would write (e.g. DynamoDB's AttributeValue).
    shape_writers: Mapping[str, Callable[[Any], Any]] = {}
    # Shapes (by name) a service reads itself: a function from the JSON value to what the walk would make
    # of it, or NOT_READ to leave that value to the model's reader (and its errors).
    shape_readers: Mapping[str, Callable[[Any], Any]] = {}

    def __init__(self, model: ServiceModel) -> None:
        super().__init__(model)
        # The operations requests have named so far, by name: botocore's model answers each question
        # through a cache of its own, keyed and guarded per call.
        self._operations: dict[str, OperationModel] = {}
        self._content_type = _content_type(model)

    async def route(self, ctx: RequestContext) -> OperationModel:
        return self.operation_for(ctx.request.headers.get("x-amz-target") or "")

    def operation_for(self, target: str) -> OperationModel:
        """The operation `X-Amz-Target` names (its prefix is the signing's and routing's business)."""
        op_name = target.rpartition(".")[2]
        operation = self._operations.get(op_name)
        if operation is None:
            if not op_name or op_name not in self.model.operation_names:
                raise ServiceError("UnknownOperationException", f"Operation {op_name or target!r} is not supported.")
            operation = self._operations[op_name] = self.model.operation_model(op_name)
        return operation

    async def parse(self, ctx: RequestContext, operation: OperationModel) -> dict[str, Any]:
        raw = await ctx.request.body()
        try:
            data = loads_body(raw) if raw and not raw.isspace() else {}
        except (ValueError, RecursionError):
            raise ServiceError("SerializationException", "The request body is not valid JSON.")
        if not isinstance(data, dict):
            raise ServiceError("SerializationException", "The request body must be a JSON object.")
        shape = operation.input_shape
        if shape is None:
            return {}
        try:
            params: dict[str, Any] = _from_json(shape, data, "", self.shape_readers)
            return params
        except _WireTypeError as exc:
            raise ServiceError(
                "SerializationException", f"Unable to parse member {exc.path or shape.name}: expected {exc.expected}."
            )

    def serialize(self, ctx: RequestContext, operation: OperationModel, result: dict[str, Any]) -> HttpResponse:
        shape = operation.output_shape
        payload = _to_json(shape, result, self.shape_writers) if shape is not None and result else {}
        return HttpResponse(
            200,
            [("Content-Type", self._content_type), ("x-amzn-RequestId", ctx.request_id)],
            compact_json(payload).encode(),
        )

    def serialize_error(self, ctx: RequestContext, error: ServiceError) -> HttpResponse:
        model = self.model
        body: dict[str, Any] = {"__type": error_type(model.endpoint_prefix, error.code), "message": error.message}
        body.update(error.extra)
        headers = [
            ("Content-Type", self._content_type),
            ("x-amzn-RequestId", ctx.request_id),
        ]
        if "awsQueryCompatible" in model.metadata:
            # Services that moved from query to JSON keep sending the legacy code so older SDKs can map it.
            # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-json-faqs.html
            fault = "Sender" if error.sender_fault else "Receiver"
            headers.append(("x-amzn-query-error", f"{error.query_code or error.code};{fault}"))
        headers.extend(error.headers.items())
        return HttpResponse(error.status, headers, json.dumps(body).encode())


# What each JSON service writes in `__type`, as its answers show (clients keep what follows '#').
# DynamoDB names its own errors by its API version and the request layer's by Coral's namespaces:
#   {"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException", ...}
#   {"__type":"com.amazon.coral.validate#ValidationException", ...}
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html
# Kinesis, CloudWatch Logs and EventBridge send the bare code; SQS's JSON protocol `com.amazonaws.sqs#`.
_SERVICE_NAMESPACE: dict[str, str | None] = {
    "dynamodb": "com.amazonaws.dynamodb.v20120810",
    "streams.dynamodb": "com.amazonaws.dynamodb.v20120810",
    "kinesis": None,
    "logs": None,
    "events": None,
}
_CORAL_NAMESPACE = {
    "ValidationException": "com.amazon.coral.validate",
    **dict.fromkeys(
        ("SerializationException", "UnknownOperationException", "MissingAuthenticationTokenException",
         "UnrecognizedClientException", "InvalidSignatureException", "IncompleteSignatureException",
         "ExpiredTokenException", "AccessDeniedException", "InternalFailure"),
        "com.amazon.coral.service"),
}


def error_type(endpoint_prefix: str, code: str) -> str:
    if endpoint_prefix not in _SERVICE_NAMESPACE:
        return f"com.amazonaws.{endpoint_prefix}#{code}"
    namespace = _SERVICE_NAMESPACE[endpoint_prefix]
    if namespace is None:
        return code
    return f"{_CORAL_NAMESPACE.get(code, namespace)}#{code}"


def _content_type(model: ServiceModel | None) -> str:
    version = model.metadata.get("jsonVersion", "1.0") if model is not None else "1.0"
    return f"application/x-amz-json-{version}"


_NO_HOOKS: Mapping[str, Callable[[Any], Any]] = MappingProxyType({})


def _from_json(shape: Shape, value: Any, path: str = "", readers: Mapping[str, Callable[[Any], Any]] = _NO_HOOKS) -> Any:
    """`value` read as `shape` (conveyor.protocol.json_reader: a reader built once per shape). `path`: where
    the value sits, named in an error about it (the readers themselves pass none: a failure names its
    member on the way out, see _WireTypeError.inside)."""
    try:
        return from_json(shape, value, readers)
    except _WireTypeError as exc:
        raise exc.inside(path) if path else exc


def loads_body(raw: bytes) -> Any:
    """A JSON request body: UTF-8 strictly (json.loads alone would let the bytes of a UTF-16 surrogate
    through), then JSON; ValueError (or RecursionError) when it is neither."""
    return json.loads(raw.decode("utf-8"))


def _compact_encoder() -> Callable[[Any], str]:
    """One encoder for every answer. json.dumps with `separators` builds a new JSONEncoder on every call, and
    JSONEncoder.encode builds its C encoder on every call too: this one is built once, and called as
    JSONEncoder.encode calls it (ASCII-escaped, NaN allowed; an answer is never circular, so no check)."""
    plain = json.JSONEncoder(separators=(",", ":"))
    make: Any = getattr(json.encoder, "c_make_encoder", None)  # (not in typeshed)
    if make is None:  # an interpreter without the json accelerator
        return plain.encode
    encode = make(None, plain.default, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, True)

    def compact(value: Any) -> str:
        return "".join(encode(value, 0))

    return compact


compact_json = _compact_encoder()


def _to_json(shape: Shape, value: Any, writers: Mapping[str, Callable[[Any], Any]] = _NO_HOOKS) -> Any:
    """`value` as JSON writes `shape` (conveyor.protocol.json_writer: a writer built once per shape)."""
    return to_json(shape, value, writers)
