"""S3's quirks on top of the generic rest-xml codec."""

from __future__ import annotations

from typing import Any

from botocore.model import OperationModel

from conveyor.protocol.rest_xml import RestXmlCodec, split_path
from conveyor.protocol.validate import ValidationCodes
from conveyor.services.s3 import integrity
from conveyor.wire import RequestContext, ServiceError

MAX_KEY_BYTES = 1024


class S3Codec(RestXmlCodec):
    # S3 does not enforce a date format on the `Expires` header of a PUT
    # (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html): it keeps it as sent and
    # returns it as is on GET and HEAD, which is why the SDKs (botocore, the Ruby and Go SDKs) expose
    # the raw value as `ExpiresString` next to a parsed `Expires`. `response-expires` is echoed the same way.
    verbatim = frozenset({"Expires", "ResponseExpires"})

    async def route(self, ctx: RequestContext) -> OperationModel:
        path = split_path(ctx)
        if path.key is not None and len(path.key.encode("utf-8")) > MAX_KEY_BYTES:
            raise ServiceError("KeyTooLongError", "Your key is too long", 400)
        return self.route_path(ctx, path)

    async def parse(self, ctx: RequestContext, operation: OperationModel) -> dict[str, Any]:
        # A body S3 reads whole is checked against what was signed (x-amz-content-sha256, Content-MD5,
        # checksums) before anything parses it, let alone acts on it.
        await integrity.read_checked_body(ctx, operation)
        return await super().parse(ctx, operation)

    def undecodable_text(self, op: OperationModel, body: bytes) -> ServiceError:
        # A bucket policy is S3's only text payload; one that is not UTF-8 is not JSON.
        # https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketPolicy.html
        if body.lstrip()[:1] != b"{":
            return ServiceError("MalformedPolicy", "Policies must be valid JSON and the first byte must be '{'", 400)
        return ServiceError("MalformedPolicy", "This policy contains invalid Json", 400)



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
