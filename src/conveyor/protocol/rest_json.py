"""The `rest-json` protocol (Lambda, ...): the operation is the HTTP method plus a URI template; inputs
come from URI labels, query strings, headers and a JSON body (or a raw payload member); outputs go back
the same way, with the status code from the model.

Errors follow the rest-json convention botocore reads: the code in the `x-amzn-ErrorType` header and a
JSON body; Lambda's bodies are `{"Type": "User", "message": ...}`
(https://docs.aws.amazon.com/lambda/latest/api/CommonErrors.html).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

from botocore.model import ListShape, OperationModel, ServiceModel, Shape

from conveyor.protocol.base import Codec, b64encode, format_timestamp, parse_timestamp
from conveyor.protocol.json_reader import _WireTypeError
from conveyor.protocol.json_rpc import _from_json, _to_json, loads_body
from conveyor.wire import HttpResponse, RequestContext, ServiceError

# URI labels: `{FunctionName}`, `{Key+}` (greedy), `{resource-arn}` (API Gateway's hyphenated names).
_LABEL = re.compile(r"\{([A-Za-z0-9_-]+)(\+?)\}")


class _Route:
    __slots__ = ("groups", "operation", "method", "pattern", "static_query", "weight")

    def __init__(self, operation: OperationModel) -> None:
        self.operation = operation
        self.method = operation.http.get("method", "POST").upper()
        uri, _, query = operation.http.get("requestUri", "/").partition("?")
        self.static_query: dict[str, str] = {}
        for part in filter(None, query.split("&")):
            key, _, value = part.partition("=")
            self.static_query[key] = value
        regex, pos = "", 0
        # Regex group names cannot hold a hyphen: groups are numbered, `groups` names them.
        self.groups: list[str] = []
        for match in _LABEL.finditer(uri):
            regex += re.escape(uri[pos:match.start()])
            greedy = match.group(2) == "+"
            regex += f"({'.+' if greedy else '[^/]+'})"
            self.groups.append(match.group(1))
            pos = match.end()
        regex += re.escape(uri[pos:])
        self.pattern = re.compile("^" + regex.rstrip("/") + "/?$")
        # Prefer the most literal template when several match (`/functions/{F}/code` over `{F+}`).
        self.weight = (len(_LABEL.sub("", uri)), len(self.static_query))


class RestJsonCodec(Codec):
    name = "rest-json"

    def __init__(self, model: ServiceModel) -> None:
        super().__init__(model)
        self.routes = [_Route(model.operation_model(name)) for name in model.operation_names]
        self.routes.sort(key=lambda r: r.weight, reverse=True)
        self._by_method: dict[str, list[_Route]] = {}
        for route in self.routes:  # matching tries only the routes of the request's method first
            self._by_method.setdefault(route.method, []).append(route)

    def match(self, method: str, path: str, query: dict[str, str]) -> tuple[OperationModel, dict[str, str]]:
        path = path.split("?", 1)[0]
        for route in self._by_method.get(method, ()):
            m = route.pattern.match(path)
            if m is None:
                continue
            if any(k not in query or (v and query[k] != v) for k, v in route.static_query.items()):
                continue
            return route.operation, {k: unquote(v) for k, v in zip(route.groups, m.groups(), strict=True)}
        if any(route.pattern.match(path) for route in self.routes):
            raise ServiceError("MethodNotAllowedException", f"The method {method} is not allowed for {path}.", 405)
        raise ServiceError("UnknownOperationException", f"No operation matches {method} {path}.", 404)

    async def route(self, ctx: RequestContext) -> OperationModel:
        request = ctx.request
        return self.match(request.method, request.path, request.query_dict())[0]

    async def parse(self, ctx: RequestContext, operation: OperationModel) -> dict[str, Any]:
        request = ctx.request
        query = request.query_dict()
        labels = self.match(request.method, request.path, query)[1]
        shape = operation.input_shape
        if shape is None:
            return {}
        params: dict[str, Any] = {}
        body_members: dict[str, Shape] = {}
        payload = shape.serialization.get("payload")
        try:
            for name, member in shape.members.items():
                loc = member.serialization.get("location")
                wire = member.serialization.get("name", name)
                if loc == "uri":
                    if wire in labels:
                        params[name] = _scalar(member, labels[wire], name)
                elif loc == "querystring":
                    if isinstance(member, ListShape):
                        values = [v for k, v in request.query if k == wire]
                        if values:
                            params[name] = [_scalar(member.member, v, name) for v in values]
                    elif member.type_name == "map":
                        params[name] = {k: v for k, v in request.query if k not in labels}
                    elif wire in query:
                        params[name] = _scalar(member, query[wire], name)
                elif loc == "header":
                    value = request.headers.get(wire)
                    if value is not None:
                        params[name] = _scalar(member, value, name)
                elif loc == "headers":
                    prefix = wire.lower()
                    found = {k[len(prefix):]: v for k, v in request.headers.items() if k.startswith(prefix)}
                    if found:
                        params[name] = found
                elif name != payload:
                    body_members[name] = member
            raw = await request.body()
            if payload:
                member = shape.members[payload]
                if member.type_name in ("blob", "string"):
                    if raw:
                        params[payload] = raw if member.type_name == "blob" else raw.decode()
                elif raw.strip():
                    params[payload] = _from_json(member, _load(raw), payload)
            elif body_members and raw.strip():
                data = _load(raw)
                for name, member in body_members.items():
                    value = data.get(member.serialization.get("name", name))  # its JSON name, as botocore's
                    if value is not None:
                        params[name] = _from_json(member, value, name)
        except _WireTypeError as exc:
            raise ServiceError("SerializationException", f"Unable to parse member {exc.path}: expected {exc.expected}.")
        return params

    def serialize(self, ctx: RequestContext, operation: OperationModel, result: dict[str, Any]) -> HttpResponse:
        status = int(operation.http.get("responseCode", 200))
        headers: list[tuple[str, str]] = [("x-amzn-RequestId", ctx.request_id)]
        shape = operation.output_shape
        if shape is None:
            return HttpResponse(status, headers)
        body: dict[str, Any] = {}
        payload = shape.serialization.get("payload")
        raw: bytes | None = None
        for name, member in shape.members.items():
            value = result.get(name)
            if value is None:
                continue
            loc = member.serialization.get("location")
            wire = member.serialization.get("name", name)
            if loc == "statusCode":
                status = int(value)
            elif loc == "header":
                headers.append((wire, _header_value(member, value)))
            elif loc == "headers":
                headers.extend((wire + k, str(v)) for k, v in value.items())
            elif name == payload:
                if member.type_name == "blob":
                    raw = value if isinstance(value, bytes) else str(value).encode()
                elif member.type_name == "string":
                    raw = str(value).encode()
                else:
                    raw = json.dumps(_to_json(member, value), separators=(",", ":")).encode()
            elif loc is None:
                body[wire] = _to_json(member, value)
        if raw is None and (body or not payload):
            raw = json.dumps(body, separators=(",", ":")).encode()
        headers.append(("Content-Type", "application/json"))
        return HttpResponse(status, headers, raw or b"")

    def serialize_error(self, ctx: RequestContext, error: ServiceError) -> HttpResponse:
        body: dict[str, Any] = {"Type": "User" if error.sender_fault else "Service", "message": error.message}
        body.update(error.extra)
        headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", ctx.request_id),
                   ("x-amzn-ErrorType", error.code)]
        headers.extend(error.headers.items())
        return HttpResponse(error.status, headers, json.dumps(body).encode())


def _load(raw: bytes) -> Any:
    try:
        data = loads_body(raw)
    except (ValueError, RecursionError):
        raise ServiceError("SerializationException", "The request body is not valid JSON.")
    if not isinstance(data, dict):
        raise ServiceError("SerializationException", "The request body must be a JSON object.")
    return data


def _scalar(shape: Shape, text: str, path: str) -> Any:
    kind = shape.type_name
    if kind in ("integer", "long"):
        try:
            return int(text)
        except ValueError:
            raise _WireTypeError(path, "an integer")
    if kind in ("float", "double"):
        try:
            return float(text)
        except ValueError:
            raise _WireTypeError(path, "a number")
    if kind == "boolean":
        if text.lower() not in ("true", "false"):
            raise _WireTypeError(path, "a boolean")
        return text.lower() == "true"
    if kind == "timestamp":
        # ISO 8601 in a query string, an HTTP date in a header, as the rest protocols write them
        # (https://smithy.io/2.0/spec/protocol-traits.html#timestampformat-trait).
        try:
            return parse_timestamp(text)
        except ValueError:
            raise _WireTypeError(path, "a timestamp")
    return text


def _header_value(shape: Shape, value: Any) -> str:
    if shape.type_name == "timestamp":
        return str(format_timestamp(value, shape, "rfc822"))
    if shape.type_name == "boolean":
        return "true" if value else "false"
    if shape.type_name == "blob":
        return b64encode(value)
    return str(value)
