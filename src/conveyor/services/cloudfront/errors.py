"""CloudFront's errors: the codes, HTTP statuses and messages its API reference documents for each one.

The model carries both (each error shape's `httpStatusCode` and documentation), so an error is raised by
its code, with a more specific message where CloudFront gives one.
https://docs.aws.amazon.com/cloudfront/latest/APIReference/CommonErrors.html
"""

from __future__ import annotations

import functools
import re

from conveyor.protocol.models import service_model
from conveyor.wire import ServiceError

_TAGS = re.compile(r"<[^>]+>")


@functools.cache
def _documented(code: str) -> tuple[int, str]:
    shape = service_model("cloudfront").shape_for(code)
    status = int(shape.metadata.get("error", {}).get("httpStatusCode", 400))
    message = " ".join(_TAGS.sub("", shape.documentation or code).split())
    return status, message


def fault(code: str, message: str | None = None) -> ServiceError:
    """The error `code` with its documented status, and `message` (else its documented one)."""
    status, documented = _documented(code)
    return ServiceError(code, message or documented, status)


def invalid_argument(message: str) -> ServiceError:
    return fault("InvalidArgument", message)


def no_such_distribution() -> ServiceError:
    return fault("NoSuchDistribution")


def check_if_match(if_match: str | None, etag: str) -> None:
    """An update or delete names the version it read (If-Match = the ETag it was given): missing is
    InvalidIfMatchVersion, another version PreconditionFailed.
    https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_UpdateDistribution.html"""
    if not if_match:
        raise fault("InvalidIfMatchVersion")
    if if_match != etag:
        raise fault("PreconditionFailed")
