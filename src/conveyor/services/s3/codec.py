"""S3's quirks on top of the generic rest-xml codec."""

from __future__ import annotations

from botocore.model import OperationModel

from conveyor.protocol.rest_xml import RestXmlCodec
from conveyor.services.base import ServiceError


class S3Codec(RestXmlCodec):
    # S3 does not enforce a date format on the `Expires` header of a PUT
    # (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html): it keeps it as sent and
    # returns it as is on GET and HEAD, which is why the SDKs (botocore, the Ruby and Go SDKs) expose
    # the raw value as `ExpiresString` next to a parsed `Expires`. `response-expires` is echoed the same way.
    verbatim = frozenset({"Expires", "ResponseExpires"})

    def undecodable_text(self, op: OperationModel, body: bytes) -> ServiceError:
        # A bucket policy is S3's only text payload; one that is not UTF-8 is not JSON.
        # https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketPolicy.html
        if body.lstrip()[:1] != b"{":
            return ServiceError("MalformedPolicy", "Policies must be valid JSON and the first byte must be '{'", 400)
        return ServiceError("MalformedPolicy", "This policy contains invalid Json", 400)


CODEC = S3Codec()
