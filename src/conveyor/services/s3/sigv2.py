"""Legacy SigV2 query-string authentication for S3 (the AWS CLI v1's `aws s3 presign` still emits it).

https://docs.aws.amazon.com/AmazonS3/latest/userguide/RESTAuthentication.html#RESTAuthenticationQueryStringAuth
The gateway knows only SigV4; a SigV2 presigned URL reaches S3 as an anonymous request and is judged here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import TYPE_CHECKING
from urllib.parse import quote

from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from conveyor.config import Config

# Sub-resources that are part of the string to sign.
SUBRESOURCES = {
    "acl", "cors", "delete", "lifecycle", "location", "logging", "notification", "partNumber", "policy",
    "requestPayment", "tagging", "torrent", "uploadId", "uploads", "versionId", "versioning", "versions",
    "website", "response-cache-control", "response-content-disposition", "response-content-encoding",
    "response-content-language", "response-content-type", "response-expires",
}


def authenticate(ctx: RequestContext, config: Config, bucket: str | None) -> bool:
    """True if the request carries a valid SigV2 query signature; raises when it carries a bad one."""
    query = dict(ctx.request.query)
    if not {"AWSAccessKeyId", "Signature", "Expires"} <= query.keys():
        return False
    try:
        expires = int(query["Expires"])
    except ValueError:
        raise ServiceError("AccessDenied", "Query-string authentication requires the Signature, Expires and "
                           "AWSAccessKeyId parameters", 403)
    if ctx.clock.now() > expires:
        raise ServiceError("AccessDenied", "Request has expired", 403,
                           extra={"Expires": expires})
    if config.auth == "sigv4":
        secret = config.credentials.get(query["AWSAccessKeyId"])
        if secret is None:
            raise ServiceError("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our "
                               "records.", 403)
        headers = ctx.request.headers
        path = ctx.request.path
        if ctx.host_bucket and bucket:
            path = f"/{quote(bucket)}{path}"
        subs = sorted((k, v) for k, v in ctx.request.query if k in SUBRESOURCES)
        if subs:
            path += "?" + "&".join(f"{k}={v}" if v else k for k, v in subs)
        amz = sorted((k, v.strip()) for k, v in headers.items() if k.startswith("x-amz-"))
        to_sign = "\n".join([ctx.request.method, headers.get("content-md5") or "", headers.get("content-type") or "",
                             str(expires)] + [f"{k}:{v}" for k, v in amz] + [path])
        expected = base64.b64encode(hmac.new(secret.encode(), to_sign.encode(), hashlib.sha1).digest()).decode()
        if not hmac.compare_digest(expected, query["Signature"]):
            raise ServiceError("SignatureDoesNotMatch", "The request signature we calculated does not match the "
                               "signature you provided. Check your key and signing method.", 403)
    ctx.access_key = query["AWSAccessKeyId"]
    ctx.authenticated = True
    return True
