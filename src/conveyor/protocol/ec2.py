"""The `ec2` protocol: query-like form fields in, XML out, with EC2's own conventions.

What differs from `query` (botocore's EC2Serializer and EC2QueryParser are the reference, and the
round-trip tests run against them):
- input names are a member's `queryName`, else its `locationName` with a capital first letter, else the
  member's name; lists are always `Name.1`, `Name.2` (no `member` level), and an empty list is sent as
  nothing at all;
- the response has no result wrapper: the members sit directly under `<OperationResponse>`, named by
  their lower-camel `locationName`, lists as `<name><item>...</item></name>`, next to `<requestId>`;
- errors are `<Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>`.
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/Query-Requests.html
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
"""

from __future__ import annotations

from typing import Any

from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from conveyor.protocol.base import xml_safe
from conveyor.protocol.query import (
    BadValue,
    QueryCodec,
    dotted_prefixes,
    form_fields,
    parse_scalar,
    write_members,
    xml_text,
)
from conveyor.wire import HttpResponse, RequestContext, ServiceError


class Ec2Codec(QueryCodec):
    name = "ec2"

    def __init__(self, model: ServiceModel) -> None:
        super().__init__(model)
        if not self.namespace.endswith("/"):  # the model says ".../2016-11-15", EC2 answers ".../2016-11-15/"
            self.namespace += "/"

    async def parse(self, ctx: RequestContext, operation: OperationModel) -> dict[str, Any]:
        fields = await form_fields(ctx)
        shape = operation.input_shape
        if not isinstance(shape, StructureShape):
            return {}
        try:
            params = _parse_structure(shape, fields, dotted_prefixes(fields), "")
        except BadValue as exc:
            raise ServiceError("InvalidParameterValue", f"Invalid value '{exc.value}' for {exc.path}: must be "
                                                        f"{exc.expected}.")
        return params or {}

    def serialize(self, ctx: RequestContext, operation: OperationModel, result: dict[str, Any]) -> HttpResponse:
        name = operation.name
        out: list[str] = [f'<?xml version="1.0" encoding="UTF-8"?>\n<{name}Response xmlns="{self.namespace}">'
                          f"<requestId>{ctx.request_id}</requestId>"]
        shape = operation.output_shape
        if isinstance(shape, StructureShape):
            write_members(out, shape, result or {}, item_tag="item")
        out.append(f"</{name}Response>")
        return HttpResponse(200, [("Content-Type", "text/xml;charset=UTF-8")], "".join(out).encode())

    def serialize_error(self, ctx: RequestContext, error: ServiceError) -> HttpResponse:
        code = error.query_code or error.code
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{xml_text(xml_safe(code))}</Code>'
                f"<Message>{xml_text(xml_safe(error.message))}</Message></Error></Errors>"
                f"<RequestID>{ctx.request_id}</RequestID></Response>")
        headers = [("Content-Type", "text/xml;charset=UTF-8"), *error.headers.items()]
        return HttpResponse(error.status, headers, body.encode())


def wire_name(shape: Shape, default: str) -> str:
    """An input member's name on the wire (EC2Serializer._get_serialized_name)."""
    serialization = shape.serialization
    if "queryName" in serialization:
        return str(serialization["queryName"])
    name = serialization.get("name")
    if name:
        return str(name[0].upper() + name[1:])
    return default


def _parse(shape: Shape, fields: dict[str, str], prefixes: set[str], path: str) -> Any:
    if isinstance(shape, StructureShape):
        return _parse_structure(shape, fields, prefixes, path)
    if isinstance(shape, ListShape):
        if path not in prefixes or f"{path}.1" not in prefixes:
            return None
        items = []
        index = 1
        while f"{path}.{index}" in prefixes:
            items.append(_parse(shape.member, fields, prefixes, f"{path}.{index}"))
            index += 1
        return items
    if isinstance(shape, MapShape):  # EC2's inputs have no maps today; read them as query does, should one appear
        out: dict[str, Any] = {}
        index = 1
        while f"{path}.{index}" in prefixes:
            key = fields.get(f"{path}.{index}.{wire_name(shape.key, 'key')}")
            if key is not None:
                out[key] = _parse(shape.value, fields, prefixes, f"{path}.{index}.{wire_name(shape.value, 'value')}")
            index += 1
        return out or None
    if path not in fields:
        return None
    return parse_scalar(shape, fields[path], path)


def _parse_structure(shape: StructureShape, fields: dict[str, str], prefixes: set[str], path: str) -> dict[str, Any] | None:
    if path and path not in prefixes:
        return None
    out: dict[str, Any] = {}
    for name, member in shape.members.items():
        member_path = f"{path}.{wire_name(member, name)}" if path else wire_name(member, name)
        if member_path not in prefixes:
            continue
        value = _parse(member, fields, prefixes, member_path)
        if value is not None:
            out[name] = value
    return out
