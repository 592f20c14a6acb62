"""Request parameters S3 would act on that Conveyor does not: refused, never silently ignored.

Where AWS itself answers a plain-HTTP request, or a bucket without the feature, with an error, that is
the error given here; what Conveyor simply lacks is refused with NotImplemented.
"""

from __future__ import annotations

from typing import Any

from conveyor.wire import RequestContext, ServiceError


def check(ctx: RequestContext, params: dict[str, Any]) -> None:
    # https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-owner-condition.html
    for member in ("ExpectedBucketOwner", "ExpectedSourceBucketOwner"):
        if params.get(member) not in (None, ctx.account_id):
            raise ServiceError("AccessDenied", "Access Denied", 403)
    # SSE-C needs TLS on AWS, and Conveyor serves plain HTTP: AWS's own answer to such a request.
    # https://docs.aws.amazon.com/AmazonS3/latest/userguide/ServerSideEncryptionCustomerKeys.html
    if params.get("SSECustomerAlgorithm") or params.get("CopySourceSSECustomerAlgorithm"):
        raise ServiceError("InvalidRequest", "Requests specifying Server Side Encryption with Customer "
                           "provided keys must be made over a secure connection.", 400)
