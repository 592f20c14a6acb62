"""S3's quirks on top of the generic rest-xml codec: requests are routed by bucket and key (a bucket may be
named by the Host, https://docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html), output
documents have S3's root names, and errors are S3's `<Error>` document with its HostId
(https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#RESTErrorResponses)."""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from botocore.model import OperationModel, ServiceModel, Shape

from conveyor.protocol.rest_xml import RestXmlCodec, Route, to_bytes
from conveyor.protocol.validate import ValidationCodes
from conveyor.services.s3 import integrity
from conveyor.services.s3.errors import error_response
from conveyor.wire import Headers, HttpResponse, RequestContext, ServiceError

MAX_KEY_BYTES = 1024
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


@dataclass(frozen=True)
class ParsedPath:
    bucket: str | None
    key: str | None


def split_path(ctx: RequestContext) -> ParsedPath:
    """Bucket and key from the (still percent-encoded) path and the virtual host, if any."""
    try:
        return _split(ctx.request.path, ctx.host_bucket)
    except UnicodeDecodeError:
        raise ServiceError("InvalidURI", "Couldn't parse the specified URI.", 400)


# Several steps of one request ask (routing, parsing, the hooks, access logs): the answer is worked out once.
@functools.lru_cache(maxsize=1024)
def _split(raw: str, host_bucket: str | None) -> ParsedPath:
    if host_bucket:
        key = raw[1:] if raw.startswith("/") else raw
        return ParsedPath(host_bucket, _decode(key) if key else None)
    rest = raw[1:] if raw.startswith("/") else raw
    if not rest:
        return ParsedPath(None, None)
    bucket, _, key = rest.partition("/")
    return ParsedPath(_decode(bucket), _decode(key) if key else None)


def _decode(text: str) -> str:
    return unquote(text, errors="strict")


def _path_kind(template: str) -> str:
    """What a requestUri's path names: "object" (`/{Bucket}/{Key+}`), "bucket" or "root"."""
    if "{Key+}" in template:
        return "object"
    return "bucket" if "{Bucket}" in template else "root"


class S3Codec(RestXmlCodec):
    # S3 does not enforce a date format on the `Expires` header of a PUT
    # (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html): it keeps it as sent and
    # returns it as is on GET and HEAD, which is why the SDKs (botocore, the Ruby and Go SDKs) expose
    # the raw value as `ExpiresString` next to a parsed `Expires`. `response-expires` is echoed the same way.
    verbatim = frozenset({"Expires", "ResponseExpires"})
    content_type = "application/xml"

    def __init__(self, model: ServiceModel) -> None:
        super().__init__(model)
        self._by_kind_method: dict[tuple[str, str], list[Route]] = {}
        for route in self.routes:
            self._by_kind_method.setdefault((_path_kind(route.template), route.method), []).append(route)
        # Without a query, which candidate fits depends only on which of their required headers the request
        # has (Route.score): the choice, made once per kind, method and headers present, is remembered.
        self._headers_that_choose = {key: tuple(sorted({h for r in routes for h in r.required_headers}))
                                     for key, routes in self._by_kind_method.items()}
        self._chosen_without_query: dict[tuple[str, str, tuple[bool, ...]], Route | None] = {}

    async def route(self, ctx: RequestContext) -> OperationModel:
        path = split_path(ctx)
        if path.key is not None and len(path.key.encode("utf-8")) > MAX_KEY_BYTES:
            raise ServiceError("KeyTooLongError", "Your key is too long", 400)
        return self.route_path(ctx, path)

    def route_path(self, ctx: RequestContext, path: ParsedPath) -> OperationModel:
        kind = "root" if path.bucket is None else ("object" if path.key is not None else "bucket")
        candidates = self._by_kind_method.get((kind, ctx.request.method), [])
        if ctx.request.query_string:
            best = self.choose(ctx, candidates)
        else:
            headers = ctx.request.headers
            present = tuple(h in headers for h in self._headers_that_choose.get((kind, ctx.request.method), ()))
            key = (kind, ctx.request.method, present)
            if key in self._chosen_without_query:
                best = self._chosen_without_query[key]
            else:
                best = self._chosen_without_query[key] = self.choose(ctx, candidates)
        if best is None:
            if candidates:
                raise ServiceError("NotImplemented", "A header or query you provided implies functionality that "
                                   "is not implemented.", 501)
            raise ServiceError("MethodNotAllowed", "The specified method is not allowed against this resource.", 405)
        return best.operation

    def uri_labels(self, ctx: RequestContext, op: OperationModel) -> dict[str, str]:
        path = split_path(ctx)
        labels = {}
        if path.bucket is not None:
            labels["Bucket"] = path.bucket
        if path.key is not None:
            labels["Key"] = path.key
        return labels

    async def parse(self, ctx: RequestContext, operation: OperationModel) -> dict[str, Any]:
        # A body S3 reads whole is checked against what was signed (x-amz-content-sha256, Content-MD5,
        # checksums) before anything parses it, let alone acts on it.
        await integrity.read_checked_body(ctx, operation)
        _hoist_presigned_metadata(ctx)
        return await super().parse(ctx, operation)

    def success_status(self, operation: OperationModel) -> int:
        return 200  # the handlers set S3's 204s and 206s themselves (`__status`)

    def output_document(self, shape: Shape, members: dict[str, Any], result: dict[str, Any]) -> bytes:
        if shape.name == "GetBucketLocationOutput":
            # AWS answers `<LocationConstraint>region</LocationConstraint>` (empty for us-east-1).
            root = ET.Element("LocationConstraint", xmlns=S3_XMLNS)
            root.text = result.get("LocationConstraint") or None
            return to_bytes(root)
        root_name = shape.serialization.get("name") or ROOT_NAMES.get(shape.name) or shape.name.removesuffix("Output")
        return self.document(root_name, shape, members)

    def serialize_error(self, ctx: RequestContext, error: ServiceError) -> HttpResponse:
        return error_response(ctx, error)

    def undecodable_text(self, op: OperationModel, body: bytes) -> ServiceError:
        # A bucket policy is S3's only text payload; one that is not UTF-8 is not JSON.
        # https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketPolicy.html
        if body.lstrip()[:1] != b"{":
            return ServiceError("MalformedPolicy", "Policies must be valid JSON and the first byte must be '{'", 400)
        return ServiceError("MalformedPolicy", "This policy contains invalid Json", 400)



def _hoist_presigned_metadata(ctx: RequestContext) -> None:
    """A presigned URL carries the user metadata it was signed with as `x-amz-meta-*` query parameters (the
    SDKs move them there: the browser or curl that uses the URL sends no such headers), and S3 stores them as
    if they were headers. https://docs.aws.amazon.com/AmazonS3/latest/userguide/PresignedUrlUploadObject.html"""
    query = ctx.request.query
    if not any(name in ("Signature", "X-Amz-Signature") for name, _ in query):
        return
    extra = [(name.lower(), value) for name, value in query
             if name.lower().startswith("x-amz-meta-") and name not in ctx.request.headers]
    if extra:
        ctx.request.headers = Headers([*ctx.request.headers.raw(), *extra])


_MALFORMED_XML = "The XML you provided was not well-formed or did not validate against our published schema"


class S3ValidationCodes(ValidationCodes):
    """S3 answers a document that breaks its schema (a member missing, an unknown enum value) with
    MalformedXML, and a header or query parameter it cannot accept with InvalidArgument.
    https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#ErrorCodeList
    Top-level members are headers, query parameters and the path; nested ones live in the XML body.
    Enum values are S3's own to judge, each with its error (InvalidLocationConstraint, InvalidStorageClass...):
    the model's lists are what SDKs know of, not what S3 checks."""

    enums = False

    def missing_error(self, path: str) -> ServiceError:
        if "." in path:
            return ServiceError("MalformedXML", _MALFORMED_XML, 400)
        return ServiceError("InvalidArgument", f"{path} is required", 400, extra={"ArgumentName": path})

    def invalid_error(self, path: str, value: Any, reason: str) -> ServiceError:
        if "." in path:
            return ServiceError("MalformedXML", _MALFORMED_XML, 400)
        return ServiceError("InvalidArgument", f"Invalid value for {path}: {reason}", 400,
                            extra={"ArgumentName": path, "ArgumentValue": str(value)})
