"""The rest-xml protocol (S3, CloudFront, Route 53), driven by the botocore model.

Routing matches method + path + query against each operation's `http.requestUri`: a URI template with
labels (`/2020-05-31/distribution/{Id}/config`; `{Key+}` is greedy) and query literals (`?WithTags`,
`?Operation=Tag`); among the operations whose template matches, the one whose literals, required query
members and required headers the request carries wins. Members are read from their `location` (uri,
querystring, header, headers, payload) and written back the same way; documents carry the namespace the
model names (`xmlNamespace`). Streaming payloads (object bodies) are never read here: the operation reads
`ctx.request.stream()` itself and returns an async iterator for the response body.

Errors are rest-xml's common shape, `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/>
</ErrorResponse>` (https://docs.aws.amazon.com/cloudfront/latest/APIReference/CommonErrors.html), which
botocore's rest-xml parser reads. S3 differs in routing (a bucket may be named by the Host) and in its
errors (`<Error>` at the root): services/s3/codec.py.
"""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from conveyor.protocol.base import Codec, format_timestamp, parse_timestamp, xml_safe
from conveyor.wire import HttpRequest, HttpResponse, RequestContext, ServiceError

# URI labels: `{Id}`, `{Key+}` (greedy).
_LABEL = re.compile(r"\{([A-Za-z0-9_-]+)(\+?)\}")
_MALFORMED = "The XML you provided was not well-formed or did not validate against our published schema"


@dataclass
class Route:
    """One operation's request line, as the model's `http` block gives it."""

    operation: OperationModel
    method: str
    template: str  # the path part of requestUri
    literals: dict[str, str | None]  # query literals from requestUri (value None = presence only)
    required_query: list[str]
    required_headers: list[str]
    query_names: frozenset[str]  # every query-string member's wire name
    pattern: re.Pattern[str] = field(repr=False)
    labels: list[str]  # the template's labels, in order
    weight: int  # characters of the template outside labels: the most literal template wins a tie

    @classmethod
    def of(cls, op: OperationModel) -> Route:
        uri = op.http.get("requestUri", "/")
        path, _, query = uri.partition("?")
        literals: dict[str, str | None] = {}
        for part in filter(None, query.split("&")):
            k, eq, v = part.partition("=")
            if k == "x-id":  # botocore's hint of the operation's name, not part of the request
                continue
            literals[k] = v if eq else None
        required_query: list[str] = []
        required_headers: list[str] = []
        query_names: set[str] = set()
        shape = op.input_shape
        if shape is not None:
            query_names = {m.serialization.get("name", n) for n, m in shape.members.items()
                           if m.serialization.get("location") == "querystring"}
            for member_name in shape.required_members:
                member = shape.members[member_name]
                loc = member.serialization.get("location")
                wire = member.serialization.get("name", member_name)
                if loc == "querystring":
                    required_query.append(wire)
                elif loc == "header":
                    required_headers.append(wire)
        regex, pos, labels = "", 0, []
        for match in _LABEL.finditer(path):
            regex += re.escape(path[pos:match.start()])
            regex += "(.+)" if match.group(2) == "+" else "([^/]+)"
            labels.append(match.group(1))
            pos = match.end()
        regex += re.escape(path[pos:])
        pattern = re.compile("^" + regex.rstrip("/") + "/?$")
        return cls(op, op.http.get("method", "GET"), path, literals, required_query, required_headers,
                   frozenset(query_names), pattern, labels, len(_LABEL.sub("", path)))

    def score(self, query: Mapping[str, str], headers: Any) -> int | None:
        """How well the request fits (its query literals, then its required members); None: it does not."""
        for k, v in self.literals.items():
            if k not in query or (v is not None and query[k] != v):
                return None
        missing = (sum(q not in query for q in self.required_query)
                   + sum(h not in headers for h in self.required_headers))
        # A subresource in the query (?attributes) names the operation even without its required members,
        # which validation then asks for; without one, they tell operations apart (PutObject, CopyObject:
        # x-amz-copy-source, UploadPart: ?partNumber&uploadId).
        if missing and not self.literals:
            return None
        present = len(self.required_query) + len(self.required_headers) - missing
        # Last, the parameters only one of them takes: GET / is ListBuckets, and with ?max-directory-buckets
        # S3 Express's ListDirectoryBuckets (whose own host we do not serve).
        known = sum(name in self.query_names for name in query)
        score = 1000 * len(self.literals) + 100 * present - 50 * missing + known
        if self.operation.deprecated:  # e.g. PutBucketNotification shares its URI with ...Configuration
            score -= 1
        return score


# One input member read from the request: (its place among the shape's members, name, shape, location,
# wire name, lower-case wire name).
_Member = tuple[int, str, Shape, str, str, str]


@dataclass
class _InputPlan:
    """Where each input member of an operation is read from, keyed the way a request is walked: a request
    carries a few of PutObject's ~50 header members, so its headers are looked up in the plan rather than
    every member in the request."""

    headers: dict[str, list[_Member]]  # by lower-case header name
    prefixed: list[_Member]  # `headers` members (x-amz-meta-*): every header starting with the wire name
    uri: list[_Member]
    query: dict[str, list[_Member]]  # by wire name
    query_maps: list[_Member]  # a map member takes the whole query
    # Whether members without a location make up the body's document (no `payload` member names one):
    # SelectObjectContent's <SelectObjectContentRequest>.
    body_document: bool = False


@dataclass
class _OutputPlan:
    # name -> (its place among the shape's members, name, shape, location, wire name, type)
    members: dict[str, tuple[int, str, Shape, str | None, str, str]]
    payload: str | None  # the member that is the body, if one is
    body_document: bool  # whether members without a location make up a document (when no payload is named)


def model_namespace(model: ServiceModel) -> str | None:
    """The service's XML namespace: the one its models' request documents declare (`xmlNamespace`), which
    its responses carry too (`http://cloudfront.amazonaws.com/doc/2020-05-31/`)."""
    for name in model.operation_names:
        shape = model.operation_model(name).input_shape
        if shape is None:
            continue
        for member in shape.members.values():
            uri = (member.serialization.get("xmlNamespace") or {}).get("uri")
            if uri:
                return str(uri)
    return None


class RestXmlCodec(Codec):
    name = "rest-xml"
    # Header and query members kept as the client sent them, not converted to their modelled type.
    verbatim: frozenset[str] = frozenset()

    def __init__(self, model: ServiceModel) -> None:
        super().__init__(model)
        self.routes = [Route.of(model.operation_model(name)) for name in model.operation_names]
        self._by_method: dict[str, list[Route]] = {}
        for route in self.routes:
            self._by_method.setdefault(route.method, []).append(route)
        self._by_operation = {route.operation.name: route for route in self.routes}
        self.xmlns = model_namespace(model)
        self._plans: dict[int, _InputPlan] = {}
        self._output_plans: dict[int, _OutputPlan] = {}
        self._member_plans: dict[str, list[tuple[str, str, object, Shape, Any]]] = {}

    # -- routing ---------------------------------------------------------------------------------
    async def route(self, ctx: RequestContext) -> OperationModel:
        path = ctx.request.path
        candidates = [r for r in self._by_method.get(ctx.request.method, ()) if r.pattern.match(path)]
        if not candidates:
            if any(r.pattern.match(path) for r in self.routes):
                raise ServiceError("MethodNotAllowed", f"The method {ctx.request.method} is not allowed against "
                                   "this resource.", 405)
            raise ServiceError("InvalidURI", f"Could not parse the specified URI: {path}.", 404)
        best = self.choose(ctx, candidates)
        if best is None:
            raise ServiceError("InvalidArgument", "The request does not carry the parameters of any operation at "
                               f"{ctx.request.method} {path}.", 400)
        return best.operation

    @staticmethod
    def choose(ctx: RequestContext, candidates: list[Route]) -> Route | None:
        """The candidate the request fits best (see Route.score), the most literal template on a tie."""
        query = ctx.request.query_dict()
        headers = ctx.request.headers
        best: tuple[int, int, Route] | None = None
        for route in candidates:
            score = route.score(query, headers)
            if score is not None and (best is None or (score, route.weight) > best[:2]):
                best = (score, route.weight, route)
        return best[2] if best is not None else None

    def uri_labels(self, ctx: RequestContext, op: OperationModel) -> dict[str, str]:
        """The values of the operation's URI labels in this request, percent-decoded."""
        route = self._by_operation[op.name]
        match = route.pattern.match(ctx.request.path)
        if match is None:
            return {}
        try:
            return {label: unquote(value, errors="strict")
                    for label, value in zip(route.labels, match.groups(), strict=True)}
        except UnicodeDecodeError:
            raise ServiceError("InvalidURI", "Couldn't parse the specified URI.", 400)

    # -- parsing ---------------------------------------------------------------------------------
    async def parse(self, ctx: RequestContext, operation: OperationModel) -> dict[str, Any]:
        return await self.parse_input(ctx, operation, self.uri_labels(ctx, operation))

    def _plan(self, op: OperationModel, shape: StructureShape) -> _InputPlan:
        """Each input member's location and wire name, worked out once per operation (PutObject has
        about 50 header members; looking each up the slow way cost more than the rest of a PUT)."""
        plan = self._plans.get(id(op))
        if plan is None:
            plan = _InputPlan({}, [], [], {}, [])
            for index, (name, member) in enumerate(shape.members.items()):
                loc = member.serialization.get("location")
                if loc is None:
                    plan.body_document = not shape.serialization.get("payload")
                    continue
                wire = member.serialization.get("name", name)
                entry = (index, name, member, loc, wire, wire.lower())
                if loc == "header":
                    plan.headers.setdefault(entry[5], []).append(entry)
                elif loc == "headers":
                    plan.prefixed.append(entry)
                elif loc == "uri":
                    plan.uri.append(entry)
                elif loc == "querystring":
                    if member.type_name == "map":
                        plan.query_maps.append(entry)
                    else:
                        plan.query.setdefault(wire, []).append(entry)
            self._plans[id(op)] = plan
        return plan

    async def parse_input(self, ctx: RequestContext, op: OperationModel, labels: Mapping[str, str]) -> dict[str, Any]:
        shape = op.input_shape
        params: dict[str, Any] = {}
        if shape is None:
            return params
        req = ctx.request
        query: dict[str, list[str]] = {}
        for k, v in req.query:
            query.setdefault(k, []).append(v)
        payload_name = shape.serialization.get("payload")
        present = req.headers.lowered()
        plan = self._plan(op, shape)
        # The members this request carries, read in the model's order (the first bad one is the one named).
        found: list[_Member] = []
        for lower in present:
            entries = plan.headers.get(lower)
            if entries is not None:
                found += entries
        found += plan.prefixed
        found += plan.uri
        if query:
            for wire in query:
                entries = plan.query.get(wire)
                if entries is not None:
                    found += entries
        found += plan.query_maps
        found.sort()
        for _, name, member, loc, wire, lower in found:
            try:
                if loc == "header":
                    raw = present[lower]
                    if name in self.verbatim:
                        params[name] = raw
                    elif member.type_name == "list":
                        params[name] = [p.strip() for p in raw.split(",") if p.strip()]
                    else:
                        params[name] = self._scalar(member, raw, "rfc822")
                elif loc == "uri":
                    value = labels.get(wire)
                    if value is not None:
                        params[name] = self._scalar(member, value)
                elif loc == "querystring":
                    if member.type_name == "map":
                        params[name] = {k: v[-1] for k, v in query.items()}
                    elif name in self.verbatim:
                        params[name] = query[wire][-1]
                    elif isinstance(member, ListShape):
                        params[name] = [self._scalar(member.member, v) for v in query[wire]]
                    else:
                        params[name] = self._scalar(member, query[wire][-1], "iso8601")
                elif loc == "headers":
                    prefixed = {k[len(lower):]: v for k, v in present.items() if k.startswith(lower)}
                    if prefixed:
                        params[name] = prefixed
            except (ValueError, TypeError, OverflowError):
                raise ServiceError("InvalidArgument", f"Invalid value for {wire}", 400,
                                   extra={"ArgumentName": wire})
        if payload_name:
            member = shape.members[payload_name]
            if member.type_name == "string" or (member.type_name == "blob"
                                                and not member.serialization.get("streaming")):
                body = await req.body()
                try:
                    params[payload_name] = body.decode("utf-8") if member.type_name == "string" else body
                except UnicodeDecodeError:
                    raise self.undecodable_text(op, body)
            elif member.type_name == "structure":
                document = await self._body_document(req, member)
                if document is not None:
                    params[payload_name] = document
        elif plan.body_document:
            document = await self._body_document(req, shape)
            for name, member in shape.members.items():
                if member.serialization.get("location") is None and document and name in document:
                    params[name] = document[name]
        return params

    async def _body_document(self, req: HttpRequest, shape: Shape) -> Any:
        """The XML body read as `shape`; None when the body is empty."""
        body = await req.body()
        if not body.strip():
            return None
        try:
            # A value of the wrong type (`<PartNumber>x</PartNumber>`) does not validate either.
            return self._xml_to_value(ET.fromstring(body), shape)
        except (ET.ParseError, ValueError, TypeError, OverflowError):
            raise self.malformed_body()

    def malformed_body(self) -> ServiceError:
        """The error for an XML body that does not parse as the operation's document."""
        return ServiceError("MalformedXML", _MALFORMED, 400)

    def undecodable_text(self, op: OperationModel, body: bytes) -> ServiceError:
        """The error for a text payload that is not UTF-8."""
        return ServiceError("InvalidArgument", "The request body is not valid UTF-8 text.", 400)

    def _scalar(self, shape: Shape, text: str, ts_default: str = "iso8601") -> Any:
        kind = shape.type_name
        if kind in ("integer", "long"):
            return int(text)
        if kind == "boolean":
            return text.lower() == "true"
        if kind in ("float", "double"):
            return float(text)
        if kind == "timestamp":
            return parse_timestamp(text)
        return text

    def _xml_to_value(self, elem: ET.Element, shape: Shape) -> Any:
        kind = shape.type_name
        if isinstance(shape, StructureShape):
            out: dict[str, Any] = {}
            children: dict[str, list[ET.Element]] = {}
            for child in elem:
                children.setdefault(_local(child.tag), []).append(child)
            for name, member in shape.members.items():
                wire = member.serialization.get("name", name)
                if member.serialization.get("xmlAttribute"):
                    for attr, val in elem.attrib.items():
                        if _local(attr) == wire.split(":")[-1]:
                            out[name] = val
                    continue
                if isinstance(member, ListShape) and member.serialization.get("flattened"):
                    items = children.get(wire) or children.get(member.member.serialization.get("name", wire)) or []
                    if items:
                        out[name] = [self._xml_to_value(i, member.member) for i in items]
                    continue
                found = children.get(wire)
                if found:
                    out[name] = self._xml_to_value(found[0], member)
            return out
        if isinstance(shape, ListShape):
            return [self._xml_to_value(child, shape.member) for child in elem]
        if isinstance(shape, MapShape):
            result = {}
            for entry in elem:
                k = v = None
                for part in entry:
                    if _local(part.tag) == shape.key.serialization.get("name", "key"):
                        k = part.text or ""
                    elif _local(part.tag) == shape.value.serialization.get("name", "value"):
                        v = self._xml_to_value(part, shape.value)
                if k is not None:
                    result[k] = v
            return result
        text = elem.text or ""
        if kind == "blob":
            return base64.b64decode(text)
        return self._scalar(shape, text.strip() if kind != "string" else text)

    # -- serialization ---------------------------------------------------------------------------
    def success_status(self, operation: OperationModel) -> int:
        """The status of a success the handler did not set (`__status`): the model's `responseCode`."""
        return int(operation.http.get("responseCode", 200))

    def serialize(self, ctx: RequestContext, operation: OperationModel, result: dict[str, Any]) -> HttpResponse:
        shape = operation.output_shape
        resp = HttpResponse(status=int(result.pop("__status", self.success_status(operation))))
        if shape is None:
            resp.headers.append(("Content-Length", "0"))
            return resp
        plan = self._output_plan(operation, shape)
        payload_name = plan.payload
        body_members = {}
        # The result's members in the model's order: a result holds a few of GetObject's ~40 output members.
        present = []
        for name in result:
            entry = plan.members.get(name)
            if entry is not None:
                present.append(entry)
        present.sort()
        for _, name, member, loc, wire, kind in present:
            value = result[name]
            if value is None:
                continue
            if loc == "header":
                if kind == "timestamp":
                    # A verbatim member (see `verbatim`) goes back as it came.
                    text = value if isinstance(value, str) else format_timestamp(value, member, "rfc822")
                elif kind == "boolean":
                    text = "true" if value else "false"
                elif kind == "list":
                    text = ",".join(str(v) for v in value)
                else:
                    text = str(value)
                resp.headers.append((wire, str(text)))
            elif loc == "headers":
                for k, v in value.items():
                    resp.headers.append((wire + k, str(v)))
            elif loc == "statusCode":
                resp.status = int(value)
            elif payload_name is None or name == payload_name:
                body_members[name] = value
        if payload_name:
            member = shape.members[payload_name]
            value = result.get(payload_name)
            if member.type_name in ("blob", "string"):
                if value is None:
                    pass
                elif isinstance(value, bytes | str):
                    resp.body = value.encode() if isinstance(value, str) else value
                else:
                    resp.stream = value
            elif value is not None:
                root_name = member.serialization.get("name", member.name)
                resp.body = self.document(root_name, member, value)
                resp.headers.append(("Content-Type", self.content_type))
        elif plan.body_document:
            resp.body = self.output_document(shape, body_members, result)
            resp.headers.append(("Content-Type", self.content_type))
        if resp.stream is None and resp.header("Content-Length") is None:
            resp.headers.append(("Content-Length", str(len(resp.body))))
        return resp

    content_type = "text/xml"

    def _output_plan(self, op: OperationModel, shape: StructureShape) -> _OutputPlan:
        """Each output member's location, wire name and type, worked out once per operation (GetObject's
        output has about 40 members, nearly all headers)."""
        plan = self._output_plans.get(id(op))
        if plan is None:
            members = {name: (index, name, member, member.serialization.get("location"),
                              member.serialization.get("name", name), member.type_name)
                       for index, (name, member) in enumerate(shape.members.items())}
            plan = _OutputPlan(members, shape.serialization.get("payload"),
                               any(entry[3] is None for entry in members.values()))
            self._output_plans[id(op)] = plan
        return plan

    def output_document(self, shape: Shape, members: dict[str, Any], result: dict[str, Any]) -> bytes:
        """The body of an output whose members make the document (no `payload` member names it)."""
        root_name = shape.serialization.get("name") or shape.name.removesuffix("Output").removesuffix("Result")
        return self.document(root_name, shape, members)

    def _members(self, shape: StructureShape) -> list[tuple[str, str, object, Shape, Any]]:
        """How each body member of a structure is written: (name, wire name, as an attribute, a flattened
        list or a child element, member shape, the namespace it declares), worked out once per shape."""
        plan = self._member_plans.get(shape.name)
        if plan is None:
            plan = []
            for name, member in shape.members.items():
                serialization = member.serialization
                if serialization.get("location"):
                    continue
                wire = serialization.get("name", name)
                ns = serialization.get("xmlNamespace")
                if serialization.get("xmlAttribute"):
                    uri = ns.get("uri", "") if ns and wire.startswith("xsi:") else None
                    plan.append((name, wire, _ATTRIBUTE, member, uri))
                elif isinstance(member, ListShape) and serialization.get("flattened"):
                    plan.append((name, wire, _FLATTENED, member, None))
                else:
                    declared = None
                    if ns and member.type_name == "structure":
                        prefix = ns.get("prefix")
                        declared = (f"xmlns:{prefix}" if prefix else "xmlns", ns.get("uri", ""))
                    plan.append((name, wire, _CHILD, member, declared))
            self._member_plans[shape.name] = plan
        return plan

    def document(self, root_name: str, shape: Shape, value: Any) -> bytes:
        """The XML document of `value`, written as text: an ElementTree built and then serialized cost
        three times as much (a ListObjectsV2 page of 1,000 keys spent most of its time there). The bytes
        are those ElementTree wrote: attributes in the order they are set, `<Tag />` when empty."""
        out: list[str] = []
        self._element(out, root_name, [("xmlns", self.xmlns)] if self.xmlns else [], shape, value)
        return _DECLARATION + "".join(out).encode()

    def _element(self, out: list[str], tag: str, attrs: list[tuple[str, str]], shape: Shape, value: Any) -> None:
        start = len(out)
        out.append("")  # the start tag, written once the attributes are known
        kind = shape.type_name
        if isinstance(shape, StructureShape):
            for name, wire, how, member, extra in self._members(shape):
                item = value.get(name)
                if item is None:
                    continue
                if how is _ATTRIBUTE:
                    if extra is not None:
                        attrs.append(("xmlns:xsi", extra))
                    attrs.append((wire, str(item)))
                elif how is _FLATTENED:
                    assert isinstance(member, ListShape)
                    for entry in item:
                        self._element(out, wire, [], member.member, entry)
                else:
                    self._element(out, wire, [extra] if extra is not None else [], member, item)
        elif isinstance(shape, ListShape):
            member_name = shape.member.serialization.get("name", "member")
            for entry in value:
                self._element(out, member_name, [], shape.member, entry)
        elif isinstance(shape, MapShape):
            key_name = shape.key.serialization.get("name", "key")
            value_name = shape.value.serialization.get("name", "value")
            for k, v in value.items():
                out.append(f"<entry><{key_name}>{_text(str(k))}</{key_name}>" if str(k) else f"<entry><{key_name} />")
                self._element(out, value_name, [], shape.value, v)
                out.append("</entry>")
        elif kind == "timestamp":
            out.append(_text(format_timestamp(value, shape, "iso8601")))
        elif kind == "boolean":
            out.append("true" if value else "false")
        elif kind == "blob":
            out.append(base64.b64encode(value).decode())
        else:
            out.append(_text(str(value)))
        head = tag + "".join(f' {name}="{_attribute(text)}"' for name, text in attrs)
        if len(out) == start + 1 or not any(out[start + 1:]):
            del out[start + 1:]
            out[start] = f"<{head} />"
        else:
            out[start] = f"<{head}>"
            out.append(f"</{tag}>")

    def serialize_error(self, ctx: RequestContext, error: ServiceError) -> HttpResponse:
        root = ET.Element("ErrorResponse", xmlns=self.xmlns) if self.xmlns else ET.Element("ErrorResponse")
        detail = ET.SubElement(root, "Error")
        ET.SubElement(detail, "Type").text = "Sender" if error.sender_fault else "Receiver"
        ET.SubElement(detail, "Code").text = xml_safe(error.code)
        ET.SubElement(detail, "Message").text = xml_safe(error.message or error.code)
        for k, v in error.extra.items():
            if v is not None:
                ET.SubElement(detail, k).text = xml_safe(str(v))  # often the request's own bad value
        ET.SubElement(root, "RequestId").text = ctx.request_id
        headers = [("Content-Type", self.content_type), *error.headers.items()]
        if ctx.request.method == "HEAD" or error.status == 304:
            return HttpResponse(status=error.status, headers=headers)
        body = to_bytes(root)
        headers.append(("Content-Length", str(len(body))))
        return HttpResponse(status=error.status, headers=headers, body=body)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


_ATTRIBUTE, _FLATTENED, _CHILD = object(), object(), object()
_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


def to_bytes(root: ET.Element) -> bytes:
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return _DECLARATION + document


def _text(text: str) -> str:
    """Character data escaped as ElementTree escapes it."""
    if "&" in text or "<" in text or ">" in text:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text


def _attribute(text: str) -> str:
    """An attribute value escaped as ElementTree escapes it."""
    if any(c in text for c in '&<>"\r\n\t'):
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
        text = text.replace("\r", "&#13;").replace("\n", "&#10;").replace("\t", "&#09;")
    return text


__all__ = ["RestXmlCodec", "Route", "model_namespace", "to_bytes"]
