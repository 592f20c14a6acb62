"""The `query` protocol: `Action=Op&Member.1.Name=...` form fields in, XML out.

Names follow botocore's query conventions (`locationName`, `flattened`, `member`/`entry` wrappers) so
any query model, including SQS's legacy names layered on by `services/sqs/query_compat.py`, works
unchanged.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from conveyor.protocol.base import Codec, b64decode, b64encode, format_timestamp, parse_timestamp, xml_safe
from conveyor.protocol.validate import ValidationCodes
from conveyor.wire import HttpResponse, RequestContext, ServiceError

FORM = "application/x-www-form-urlencoded"
# XML parsers turn a raw CR into LF; AWS escapes it so message bodies round-trip exactly.
_XML_ENTITIES = {"\r": "&#xD;"}


def xml_text(value: str) -> str:
    return escape(value, _XML_ENTITIES)


class _BadValue(Exception):
    def __init__(self, path: str, value: str, expected: str) -> None:
        super().__init__(path)
        self.path, self.value, self.expected = path, value, expected


class _Missing(Exception):
    """A list item or map value that is announced (`Attribute.1.Name=x`) but not given."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


class QueryCodec(Codec):
    name = "query"

    def __init__(self, model: ServiceModel, *, namespace: str = "",
                 validation_codes: ValidationCodes | None = None, empty_detail: bool = False) -> None:
        super().__init__(model)
        self.namespace = namespace or model.metadata.get("xmlNamespace") or (
            f"http://{model.endpoint_prefix}.amazonaws.com/doc/{model.api_version}/")
        self.validation_codes = validation_codes
        self.empty_detail = empty_detail

    async def route(self, ctx: RequestContext) -> OperationModel:
        action = (await form_fields(ctx)).get("Action", "")
        if not action:
            raise ServiceError("MissingAction", "The request must contain the parameter Action.")
        if action not in self.model.operation_names:
            raise ServiceError("InvalidAction", f"The action {action} is not valid for this endpoint.")
        return self.model.operation_model(action)

    async def parse(self, ctx: RequestContext, operation: OperationModel) -> dict[str, Any]:
        fields = await form_fields(ctx)
        shape = operation.input_shape
        if shape is None:
            return {}
        prefixes = _prefixes(fields)
        try:
            params = _parse_structure(shape, fields, prefixes, "")
        except _BadValue as exc:
            codes = self.validation_codes
            if codes is not None:
                raise codes.invalid_error(exc.path, exc.value, f"must be {exc.expected}")
            raise ServiceError("InvalidParameterValue", f"Invalid value for parameter {exc.path}: {exc.value}")
        except _Missing as exc:
            codes = self.validation_codes
            if codes is not None:
                raise codes.missing_error(exc.path)
            raise ServiceError("MissingParameter", f"The request must contain the parameter {exc.path}.")
        return params or {}

    def serialize(self, ctx: RequestContext, operation: OperationModel, result: dict[str, Any]) -> HttpResponse:
        name = operation.name
        out: list[str] = [f'<?xml version="1.0"?><{name}Response xmlns="{self.namespace}">']
        shape = operation.output_shape
        if shape is not None:
            wrapper = shape.serialization.get("resultWrapper") or f"{name}Result"
            out.append(f"<{wrapper}>")
            _write_members(out, shape, result or {})
            out.append(f"</{wrapper}>")
        out.append(f"<ResponseMetadata><RequestId>{ctx.request_id}</RequestId></ResponseMetadata></{name}Response>")
        return HttpResponse(200, [("Content-Type", "text/xml"), ("x-amzn-RequestId", ctx.request_id)],
                            "".join(out).encode())

    def serialize_error(self, ctx: RequestContext, error: ServiceError) -> HttpResponse:
        return error_document(ctx, error, self.namespace, empty_detail=self.empty_detail)


def error_document(ctx: RequestContext, error: ServiceError, namespace: str, *,
                   empty_detail: bool = False) -> HttpResponse:
    """The query protocol's <ErrorResponse> (also what services without a model of ours answer in).

    Most query services (SNS, IAM, STS, CloudWatch) send Type, Code and Message only; SQS's query API
    adds an empty <Detail/>, which botocore reports as `"Detail": None`
    (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-xml-api-responses.html).
    """
    fault = "Sender" if error.sender_fault else "Receiver"
    code = error.query_code or error.code
    detail = "<Detail/>" if empty_detail else ""
    body = (
        f'<?xml version="1.0"?><ErrorResponse xmlns="{namespace}"><Error><Type>{fault}</Type>'
        f"<Code>{xml_text(xml_safe(code))}</Code><Message>{xml_text(xml_safe(error.message))}</Message>"
        f"{detail}</Error>"
        f"<RequestId>{ctx.request_id}</RequestId></ErrorResponse>"
    )
    headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", ctx.request_id), *error.headers.items()]
    return HttpResponse(error.status, headers, body.encode())


async def form_fields(ctx: RequestContext) -> dict[str, str]:
    """The request's parameters: the form body of a POST, plus the query string.

    A parameter of the query string is never overridden by the body: a presigned URL signs its query
    string, and whatever a body adds must not change the action or the queue it names.
    """
    if ctx.form is not None:
        return ctx.form
    fields: dict[str, str] = {}
    if ctx.request.method == "POST":
        raw = await ctx.request.body()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ServiceError("MalformedQueryString", "The request body is not valid UTF-8.")
        try:
            fields.update(parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text)))
        except ValueError:
            raise ServiceError("MalformedQueryString", "The request body is not a valid form encoding.")
    fields.update(ctx.request.query)
    ctx.form = fields
    return fields


# -- parsing ----------------------------------------------------------------------------------------

def _prefixes(fields: dict[str, str]) -> set[str]:
    """Every dotted prefix of every field name, so "is there anything under X.3?" is one lookup."""
    seen: set[str] = set()
    for key in fields:
        parts = key.split(".")
        for i in range(1, len(parts) + 1):
            seen.add(".".join(parts[:i]))
    return seen


def _member_name(shape: Shape, default: str) -> str:
    name: str = shape.serialization.get("name", default)
    return name


def _parse(shape: Shape, fields: dict[str, str], prefixes: set[str], path: str) -> Any:
    if isinstance(shape, StructureShape):
        return _parse_structure(shape, fields, prefixes, path)
    if isinstance(shape, ListShape):
        return _parse_list(shape, fields, prefixes, path)
    if isinstance(shape, MapShape):
        return _parse_map(shape, fields, prefixes, path)
    if path not in fields:
        return None
    return _scalar(shape, fields[path], path)


def _parse_structure(shape: StructureShape, fields: dict[str, str], prefixes: set[str], path: str) -> dict[str, Any] | None:
    if path and path not in prefixes:
        return None
    out: dict[str, Any] = {}
    for name, member in shape.members.items():
        wire = _member_name(member, name)
        member_path = f"{path}.{wire}" if path else wire
        if member_path not in prefixes:
            continue
        value = _parse(member, fields, prefixes, member_path)
        if value is not None:
            out[name] = value
    return out


def _parse_list(shape: ListShape, fields: dict[str, str], prefixes: set[str], path: str) -> list[Any] | None:
    if shape.serialization.get("flattened"):
        item_name = shape.member.serialization.get("name")
        base = ".".join([*path.split(".")[:-1], item_name]) if item_name else path
    else:
        base = f"{path}.{shape.member.serialization.get('name', 'member')}"
    if base not in prefixes:
        return [] if fields.get(path) == "" else None
    items = []
    index = 1
    while f"{base}.{index}" in prefixes:
        items.append(_present(_parse(shape.member, fields, prefixes, f"{base}.{index}"), f"{base}.{index}"))
        index += 1
    return items


def _parse_map(shape: MapShape, fields: dict[str, str], prefixes: set[str], path: str) -> dict[str, Any] | None:
    base = path if shape.serialization.get("flattened") else f"{path}.entry"
    key_name = _member_name(shape.key, "key")
    value_name = _member_name(shape.value, "value")
    if base not in prefixes:
        return None
    out: dict[str, Any] = {}
    index = 1
    while f"{base}.{index}" in prefixes:
        entry = f"{base}.{index}"
        key = fields.get(f"{entry}.{key_name}")
        if key is not None:
            value_path = f"{entry}.{value_name}"
            out[key] = _present(_parse(shape.value, fields, prefixes, value_path), value_path)
        index += 1
    return out


def _present(value: Any, path: str) -> Any:
    if value is None:
        raise _Missing(path)
    return value


def _scalar(shape: Shape, text: str, path: str) -> Any:
    kind = shape.type_name
    if kind == "string":
        return text
    if kind in ("integer", "long"):
        try:
            return int(text)
        except ValueError:
            raise _BadValue(path, text, "an integer")
    if kind in ("float", "double"):
        try:
            return float(text)
        except ValueError:
            raise _BadValue(path, text, "a number")
    if kind == "boolean":
        lowered = text.lower()
        if lowered not in ("true", "false"):
            raise _BadValue(path, text, "true or false")
        return lowered == "true"
    if kind == "blob":
        try:
            return b64decode(text)
        except ValueError:
            raise _BadValue(path, text, "base64-encoded")
    if kind == "timestamp":
        try:
            return parse_timestamp(text)
        except ValueError:
            raise _BadValue(path, text, "a timestamp")
    return text


# -- serializing ------------------------------------------------------------------------------------

def _element_name(shape: Shape, name: str) -> str:
    # Mirrors botocore's query response parser: a flattened list's items carry the member's name.
    if isinstance(shape, ListShape) and shape.serialization.get("flattened"):
        item_name: str | None = shape.member.serialization.get("name")
        if item_name:
            return item_name
    return _member_name(shape, name)


def _write_members(out: list[str], shape: StructureShape, value: dict[str, Any], item_tag: str = "member") -> None:
    """`item_tag`: a list item's element when its shape names none (query's "member", EC2's "item")."""
    members = shape.members
    for name, item in value.items():
        member = members.get(name)
        if member is None or item is None:
            continue
        _write(out, member, item, _element_name(member, name), item_tag)


def _write(out: list[str], shape: Shape, value: Any, tag: str, default_item: str = "member") -> None:
    if isinstance(shape, StructureShape):
        out.append(f"<{tag}>")
        _write_members(out, shape, value, default_item)
        out.append(f"</{tag}>")
    elif isinstance(shape, ListShape):
        item_shape = shape.member
        if shape.serialization.get("flattened"):
            for item in value:
                _write(out, item_shape, item, tag, default_item)
        else:
            item_tag = _member_name(item_shape, default_item)
            out.append(f"<{tag}>")
            for item in value:
                _write(out, item_shape, item, item_tag, default_item)
            out.append(f"</{tag}>")
    elif isinstance(shape, MapShape):
        key_tag = _member_name(shape.key, "key")
        value_tag = _member_name(shape.value, "value")
        flattened = shape.serialization.get("flattened")
        if not flattened:
            out.append(f"<{tag}>")
        for key, item in value.items():
            out.append(f"<{tag}>" if flattened else "<entry>")
            _write(out, shape.key, key, key_tag, default_item)
            _write(out, shape.value, item, value_tag, default_item)
            out.append(f"</{tag}>" if flattened else "</entry>")
        if not flattened:
            out.append(f"</{tag}>")
    else:
        out.append(f"<{tag}>{xml_text(_scalar_text(shape, value))}</{tag}>")


def _scalar_text(shape: Shape, value: Any) -> str:
    kind = shape.type_name
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "blob":
        return b64encode(value if isinstance(value, bytes) else str(value).encode())
    if kind == "timestamp":
        return str(format_timestamp(value, shape, "iso8601"))
    return str(value)


# What the sibling `ec2` codec (conveyor.protocol.ec2) shares with this one.
BadValue = _BadValue
dotted_prefixes = _prefixes
parse_scalar = _scalar
write_members = _write_members
