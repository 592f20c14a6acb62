"""The rest-xml protocol (S3), driven by the botocore model.

Routing matches method + path + query against each operation's `http.requestUri` (e.g.
`/{Bucket}/{Key+}?uploads`); members are read from their `location` (uri, querystring, header, headers,
payload) and written back the same way. Streaming payloads (object bodies) are never read here: the
operation reads `ctx.request.stream()` itself and returns an async iterator for the response body.
"""

from __future__ import annotations

import base64
import hashlib
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from conveyor.protocol.base import Codec, format_timestamp, parse_timestamp, xml_safe
from conveyor.wire import HttpRequest, HttpResponse, RequestContext, ServiceError

S3_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"

# Root element names AWS uses for outputs without an explicit payload member (the model omits them;
# botocore ignores the root name but other SDKs and tools look at it).
ROOT_NAMES = {
    "ListBucketsOutput": "ListAllMyBucketsResult",
    "ListObjectsOutput": "ListBucketResult",
    "ListObjectsV2Output": "ListBucketResult",
    "ListObjectVersionsOutput": "ListVersionsResult",
    "CreateMultipartUploadOutput": "InitiateMultipartUploadResult",
    "CompleteMultipartUploadOutput": "CompleteMultipartUploadResult",
    "ListPartsOutput": "ListPartsResult",
    "ListMultipartUploadsOutput": "ListMultipartUploadsResult",
    "DeleteObjectsOutput": "DeleteResult",
    "GetBucketTaggingOutput": "Tagging",
    "GetObjectTaggingOutput": "Tagging",
    "GetBucketCorsOutput": "CORSConfiguration",
    "GetBucketVersioningOutput": "VersioningConfiguration",
    "GetBucketAclOutput": "AccessControlPolicy",
    "GetObjectAclOutput": "AccessControlPolicy",
    "GetBucketNotificationConfigurationOutput": "NotificationConfiguration",
    "GetBucketLocationOutput": "LocationConstraint",
}


@dataclass
class _Route:
    operation: OperationModel
    method: str
    path_kind: str  # "root" | "bucket" | "object"
    literals: dict[str, str | None]  # query literals from requestUri (value None = presence only)
    required_query: list[str]
    required_headers: list[str]
    query_names: frozenset[str]  # every query-string member's wire name


@dataclass
class _InputPlan:
    members: list[tuple[str, Shape, str, str, str]]  # (name, shape, location, wire name, lower-case wire)
    # Whether members without a location make up the body's document (no `payload` member names one):
    # SelectObjectContent's <SelectObjectContentRequest>.
    body_document: bool = False


@dataclass
class ParsedPath:
    bucket: str | None
    key: str | None


def split_path(ctx: RequestContext) -> ParsedPath:
    """Bucket and key from the (still percent-encoded) path and the virtual host, if any."""
    raw = ctx.request.path
    host_bucket = ctx.host_bucket
    try:
        if host_bucket:
            key = raw[1:] if raw.startswith("/") else raw
            return ParsedPath(host_bucket, _decode(key) if key else None)
        rest = raw[1:] if raw.startswith("/") else raw
        if not rest:
            return ParsedPath(None, None)
        bucket, _, key = rest.partition("/")
        return ParsedPath(_decode(bucket), _decode(key) if key else None)
    except UnicodeDecodeError:
        raise ServiceError("InvalidURI", "Couldn't parse the specified URI.", 400)


def _decode(text: str) -> str:
    return unquote(text, errors="strict")


class RestXmlCodec(Codec):
    name = "rest-xml"
    # Header and query members kept as the client sent them, not converted to their modelled type.
    verbatim: frozenset[str] = frozenset()

    def __init__(self, model: ServiceModel) -> None:
        super().__init__(model)
        self._routes = self._build_routes(model)
        self._by_kind_method: dict[tuple[str, str], list[_Route]] = {}
        self._plans: dict[int, _InputPlan] = {}

    # -- routing ---------------------------------------------------------------------------------
    @staticmethod
    def _build_routes(model: ServiceModel) -> list[_Route]:
        routes = []
        for name in model.operation_names:
            op = model.operation_model(name)
            uri = op.http.get("requestUri", "/")
            path, _, query = uri.partition("?")
            literals: dict[str, str | None] = {}
            for part in filter(None, query.split("&")):
                k, eq, v = part.partition("=")
                if k == "x-id":
                    continue
                literals[k] = v if eq else None
            if "{Key+}" in path:
                kind = "object"
            elif "{Bucket}" in path:
                kind = "bucket"
            else:
                kind = "root"
            req_q, req_h = [], []
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
                        req_q.append(wire)
                    elif loc == "header":
                        req_h.append(wire)
            routes.append(_Route(op, op.http.get("method", "GET"), kind, literals, req_q, req_h,
                                 frozenset(query_names)))
        return routes

    def _candidates(self, kind: str, method: str) -> list[_Route]:
        key = (kind, method)
        found = self._by_kind_method.get(key)
        if found is None:
            found = [r for r in self._routes if r.path_kind == kind and r.method == method]
            self._by_kind_method[key] = found
        return found

    async def route(self, ctx: RequestContext) -> OperationModel:
        return self.route_path(ctx, split_path(ctx))

    def route_path(self, ctx: RequestContext, path: ParsedPath) -> OperationModel:
        kind = "root" if path.bucket is None else ("object" if path.key is not None else "bucket")
        query = dict(ctx.request.query)
        headers = ctx.request.headers
        best: tuple[int, _Route] | None = None
        candidates = self._candidates(kind, ctx.request.method)
        method_seen = bool(candidates)
        for r in candidates:
            ok = True
            for k, v in r.literals.items():
                if k not in query or (v is not None and query[k] != v):
                    ok = False
                    break
            if not ok:
                continue
            missing = (sum(q not in query for q in r.required_query)
                       + sum(h not in headers for h in r.required_headers))
            # A subresource in the query (?attributes) names the operation even without its required
            # members, which validation then asks for; without one, they tell operations apart
            # (PutObject, CopyObject: x-amz-copy-source, UploadPart: ?partNumber&uploadId).
            if missing and not r.literals:
                continue
            present = len(r.required_query) + len(r.required_headers) - missing
            # Last, the parameters only one of them takes: GET / is ListBuckets, and with
            # ?max-directory-buckets S3 Express's ListDirectoryBuckets (whose own host we do not serve).
            known = sum(name in r.query_names for name in query)
            score = 1000 * len(r.literals) + 100 * present - 50 * missing + known
            if r.operation.deprecated:  # e.g. PutBucketNotification shares its URI with ...Configuration
                score -= 1
            if best is None or score > best[0]:
                best = (score, r)
        if best is None:
            if method_seen:
                raise ServiceError("NotImplemented", "A header or query you provided implies functionality that is not implemented.", 501)
            raise ServiceError("MethodNotAllowed", "The specified method is not allowed against this resource.", 405)
        return best[1].operation

    # -- parsing ---------------------------------------------------------------------------------
    async def parse(self, ctx: RequestContext, operation: OperationModel) -> dict[str, Any]:
        return await self.parse_input(ctx, operation, split_path(ctx))

    def _plan(self, op: OperationModel, shape: StructureShape) -> _InputPlan:
        """Each input member's location and wire name, worked out once per operation (PutObject has
        about 50 header members; looking each up the slow way cost more than the rest of a PUT)."""
        plan = self._plans.get(id(op))
        if plan is None:
            members = []
            body_document = False
            for name, member in shape.members.items():
                loc = member.serialization.get("location")
                if loc is not None:
                    wire = member.serialization.get("name", name)
                    members.append((name, member, loc, wire, wire.lower()))
                else:
                    body_document = not shape.serialization.get("payload")
            plan = _InputPlan(members, body_document)
            self._plans[id(op)] = plan
        return plan

    async def parse_input(self, ctx: RequestContext, op: OperationModel, path: ParsedPath) -> dict[str, Any]:
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
        for name, member, loc, wire, lower in plan.members:
            try:
                if loc == "header":
                    raw = present.get(lower)
                    if raw is not None:
                        if name in self.verbatim:
                            params[name] = raw
                        elif member.type_name == "list":
                            params[name] = [p.strip() for p in raw.split(",") if p.strip()]
                        else:
                            params[name] = self._scalar(member, raw, "rfc822")
                elif loc == "uri":
                    value = path.key if wire.startswith("Key") else path.bucket
                    if value is not None:
                        params[name] = value
                elif loc == "querystring":
                    if member.type_name == "map":
                        params[name] = {k: v[-1] for k, v in query.items()}
                    elif wire in query:
                        if name in self.verbatim:
                            params[name] = query[wire][-1]
                        elif isinstance(member, ListShape):
                            params[name] = [self._scalar(member.member, v) for v in query[wire]]
                        else:
                            params[name] = self._scalar(member, query[wire][-1], "iso8601")
                elif loc == "headers":
                    found = {k[len(lower):]: v for k, v in present.items() if k.startswith(lower)}
                    if found:
                        params[name] = found
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
            raise ServiceError(
                "MalformedXML",
                "The XML you provided was not well-formed or did not validate against our published schema",
                400,
            )

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
    def serialize(self, ctx: RequestContext, operation: OperationModel, result: dict[str, Any]) -> HttpResponse:
        shape = operation.output_shape
        resp = HttpResponse(status=int(result.pop("__status", 200)))
        if shape is None:
            resp.headers.append(("Content-Length", "0"))
            return resp
        payload_name = shape.serialization.get("payload")
        body_members = {}
        for name, member in shape.members.items():
            if name not in result or result[name] is None:
                continue
            value = result[name]
            loc = member.serialization.get("location")
            wire = member.serialization.get("name", name)
            if loc == "header":
                if member.type_name == "timestamp":
                    # A verbatim member (see `verbatim`) goes back as it came.
                    text = value if isinstance(value, str) else format_timestamp(value, member, "rfc822")
                elif member.type_name == "boolean":
                    text = "true" if value else "false"
                elif member.type_name == "list":
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
                resp.body = self._document(root_name, member, value)
                resp.headers.append(("Content-Type", "application/xml"))
        elif shape.members and any(
            m.serialization.get("location") is None for m in shape.members.values()
        ):
            root_name = shape.serialization.get("name") or ROOT_NAMES.get(shape.name) or shape.name.removesuffix("Output")
            if shape.name == "GetBucketLocationOutput":
                # AWS answers `<LocationConstraint>region</LocationConstraint>` (empty for us-east-1).
                root = ET.Element("LocationConstraint", xmlns=S3_XMLNS)
                root.text = result.get("LocationConstraint") or None
                resp.body = _to_bytes(root)
            else:
                resp.body = self._document(root_name, shape, body_members)
            resp.headers.append(("Content-Type", "application/xml"))
        if resp.stream is None and resp.header("Content-Length") is None:
            resp.headers.append(("Content-Length", str(len(resp.body))))
        return resp

    def _document(self, root_name: str, shape: Shape, value: Any) -> bytes:
        root = ET.Element(root_name, xmlns=S3_XMLNS)
        self._fill(root, shape, value)
        return _to_bytes(root)

    def _fill(self, elem: ET.Element, shape: Shape, value: Any) -> None:
        if isinstance(shape, StructureShape):
            for name, member in shape.members.items():
                if name not in value or value[name] is None:
                    continue
                if member.serialization.get("location"):
                    continue
                wire = member.serialization.get("name", name)
                item = value[name]
                if member.serialization.get("xmlAttribute"):
                    ns = member.serialization.get("xmlNamespace", {})
                    if wire.startswith("xsi:") and ns:
                        elem.set("xmlns:xsi", ns.get("uri", ""))
                    elem.set(wire, str(item))
                    continue
                if isinstance(member, ListShape) and member.serialization.get("flattened"):
                    for entry in item:
                        child = ET.SubElement(elem, wire)
                        self._fill(child, member.member, entry)
                    continue
                child = ET.SubElement(elem, wire)
                ns = member.serialization.get("xmlNamespace")
                if ns and member.type_name == "structure":
                    prefix = ns.get("prefix")
                    child.set(f"xmlns:{prefix}" if prefix else "xmlns", ns.get("uri", ""))
                self._fill(child, member, item)
        elif isinstance(shape, ListShape):
            member_name = shape.member.serialization.get("name", "member")
            for entry in value:
                child = ET.SubElement(elem, member_name)
                self._fill(child, shape.member, entry)
        elif isinstance(shape, MapShape):
            for k, v in value.items():
                entry = ET.SubElement(elem, "entry")
                ET.SubElement(entry, shape.key.serialization.get("name", "key")).text = str(k)
                self._fill(ET.SubElement(entry, shape.value.serialization.get("name", "value")), shape.value, v)
        elif shape.type_name == "timestamp":
            elem.text = format_timestamp(value, shape, "iso8601")
        elif shape.type_name == "boolean":
            elem.text = "true" if value else "false"
        elif shape.type_name == "blob":
            elem.text = base64.b64encode(value).decode()
        else:
            elem.text = str(value)

    def serialize_error(self, ctx: RequestContext, error: ServiceError) -> HttpResponse:
        return error_response(ctx, error)


def error_response(ctx: RequestContext, error: ServiceError) -> HttpResponse:
    root = ET.Element("Error")
    ET.SubElement(root, "Code").text = xml_safe(error.code)
    ET.SubElement(root, "Message").text = xml_safe(error.message or error.code)
    for k, v in error.extra.items():
        if v is not None:
            ET.SubElement(root, k).text = xml_safe(str(v))  # often the request's own bad value
    ET.SubElement(root, "RequestId").text = ctx.request_id
    ET.SubElement(root, "HostId").text = host_id(ctx)
    body = b"" if ctx.request.method == "HEAD" else _to_bytes(root)
    headers = [
        ("Content-Type", "application/xml"),
        ("x-amz-id-2", host_id(ctx)),
    ]
    headers += list(error.headers.items())
    if ctx.request.method != "HEAD" and error.status != 304:
        headers.append(("Content-Length", str(len(body))))
    else:
        body = b""
    return HttpResponse(status=error.status, headers=headers, body=body)


def host_id(ctx: RequestContext) -> str:
    """S3's x-amz-id-2, derived from the request id so every part of one answer agrees."""
    return base64.b64encode(hashlib.sha256(ctx.request_id.encode()).digest()).decode()


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _to_bytes(root: ET.Element) -> bytes:
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + document


__all__ = ["ParsedPath", "RestXmlCodec", "S3_XMLNS", "error_response", "host_id", "split_path"]
