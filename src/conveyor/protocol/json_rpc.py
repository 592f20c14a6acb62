"""The `json` protocol (JSON 1.0/1.1 RPC): `X-Amz-Target: Prefix.Operation`, a JSON body each way."""

from __future__ import annotations

import json
import json.encoder
import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from conveyor.protocol.base import Codec, b64decode, parse_timestamp
from conveyor.protocol.json_writer import to_json
from conveyor.wire import HttpResponse, RequestContext, ServiceError


class _WireTypeError(Exception):
    """A value of the wrong type. `path` names it from the top of the input ("Item.name.S"); the walk
    builds it only on the way out of a failure, one member name per level, never for a value that parses."""

    def __init__(self, path: str, expected: str) -> None:
        super().__init__(expected)
        self.path = path
        self.expected = expected

    def inside(self, name: str | int) -> _WireTypeError:
        """This error, seen from the container that holds the value under `name`."""
        self.path = f"{name}.{self.path}" if self.path else str(name)
        return self

    def __str__(self) -> str:
        return f"{self.path}: expected {self.expected}"


class JsonCodec(Codec):
    name = "json"
    # Shapes (by name) a service writes itself, faster than the model walk: a function from the value to
    # its JSON form, which must be what the walk would write (e.g. DynamoDB's AttributeValue).
    shape_writers: Mapping[str, Callable[[Any], Any]] = {}
    # Shapes (by name) a service reads itself: a function from the JSON value to what the walk would make
    # of it, or NOT_READ to leave that value to the walk (and its errors).
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


NOT_READ = object()  # a shape reader's answer for a value it leaves to the model walk

_NO_HOOKS: Mapping[str, Callable[[Any], Any]] = MappingProxyType({})


def _from_json(shape: Shape, value: Any, path: str = "", readers: Mapping[str, Callable[[Any], Any]] = _NO_HOOKS) -> Any:
    """`value` read as `shape`. `path`: where the value sits, named in an error about it (the walk itself
    passes none: a failure names its member on the way out, see _WireTypeError.inside)."""
    try:
        return _read(shape, value, readers)
    except _WireTypeError as exc:
        raise exc.inside(path) if path else exc


def _read(shape: Shape, value: Any, readers: Mapping[str, Callable[[Any], Any]]) -> Any:
    if value is None:
        return None
    if readers:
        reader = readers.get(shape.name)
        if reader is not None:
            read = reader(value)
            if read is not NOT_READ:
                return read
    kind = shape.type_name
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            raise _WireTypeError("", "an object")
        members = shape.members
        out: dict[str, Any] = {}
        for name, item in value.items():
            member = members.get(name)
            if member is None:  # a member with a JSON name of its own (`locationName`, as API Gateway's)
                name, member = _by_json_name(members, name)
            if member is not None and item is not None:
                try:
                    out[name] = _read(member, item, readers)
                except _WireTypeError as exc:
                    raise exc.inside(name)
        return out
    if isinstance(shape, ListShape):
        if not isinstance(value, list):
            raise _WireTypeError("", "a list")
        member = shape.member
        items = []
        for i, item in enumerate(value, 1):
            try:
                items.append(_read(member, _not_null(item), readers))
            except _WireTypeError as exc:
                raise exc.inside(i)
        return items
    if isinstance(shape, MapShape):
        if not isinstance(value, dict):
            raise _WireTypeError("", "an object")
        if any(_SURROGATE.search(k) for k in value):
            raise _WireTypeError("", "keys of Unicode characters (a lone surrogate escape is not one)")
        value_shape = shape.value
        entries = {}
        for k, v in value.items():
            try:
                entries[str(k)] = _read(value_shape, _not_null(v), readers)
            except _WireTypeError as exc:
                raise exc.inside(k)
        return entries
    if kind == "blob":
        if not isinstance(value, str):
            raise _WireTypeError("", "a base64 string")
        try:
            return b64decode(value)
        except ValueError:
            raise _WireTypeError("", "a base64 string")
    if kind == "timestamp":
        try:
            return parse_timestamp(value)
        except ValueError:
            raise _WireTypeError("", "a timestamp")
    if kind == "string" and not isinstance(value, str):
        raise _WireTypeError("", "a string")
    if kind == "string" and _SURROGATE.search(value):
        raise _WireTypeError("", "a string of Unicode characters (a lone surrogate escape is not one)")
    if kind in ("integer", "long") and (isinstance(value, bool) or not isinstance(value, int)):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise _WireTypeError("", "an integer")
    if kind == "boolean" and not isinstance(value, bool):
        raise _WireTypeError("", "a boolean")
    if kind in ("float", "double") and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise _WireTypeError("", "a number")
    return value


def _by_json_name(members: Mapping[str, Shape], json_name: str) -> tuple[str, Shape | None]:
    """The member a JSON key names through its `locationName` (botocore reads and writes that name)."""
    for name, member in members.items():
        if member.serialization.get("name") == json_name:
            return name, member
    return json_name, None


_SURROGATE = re.compile("[\ud800-\udfff]")


def loads_body(raw: bytes) -> Any:
    """A JSON request body: UTF-8 strictly (json.loads alone would let the bytes of a UTF-16 surrogate
    through), then JSON; ValueError (or RecursionError) when it is neither."""
    return json.loads(raw.decode("utf-8"))


def _not_null(item: Any) -> Any:
    """AWS's collections are dense unless modelled `sparse` (none of the served ones is): a null inside one
    is refused, as Smithy server SDKs refuse it, never passed on as a missing value."""
    if item is None:
        raise _WireTypeError("", "a value, not null")
    return item


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
