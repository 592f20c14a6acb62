"""Requests to a bucket's website endpoint (`BUCKET.s3-website-REGION.amazonaws.com`).

A website endpoint serves a bucket only once it has a website configuration, answers GET and HEAD
only, and reports errors as HTML pages, not XML
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/WebsiteEndpoints.html). Conveyor does not offer
website configurations (PutBucketWebsite is refused), so every bucket answers as an AWS bucket without
one: 404 NoSuchWebsiteConfiguration, or NoSuchBucket.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from conveyor.services.s3.errors import host_id
from conveyor.wire import HttpResponse, RequestContext

if TYPE_CHECKING:
    from conveyor.services.s3.store import S3Store

_TITLES = {404: "404 Not Found", 405: "405 Method Not Allowed"}


def respond(store: S3Store, ctx: RequestContext, bucket: str) -> HttpResponse:
    details: list[tuple[str, str]]
    if ctx.request.method not in ("GET", "HEAD"):
        status = 405
        details = [("Code", "MethodNotAllowed"), ("Message", "The specified method is not allowed against this "
                                                              "resource."), ("Method", ctx.request.method)]
    elif store.bucket(bucket) is None:
        status = 404
        details = [("Code", "NoSuchBucket"), ("Message", "The specified bucket does not exist"),
                   ("BucketName", bucket)]
    else:
        status = 404
        details = [("Code", "NoSuchWebsiteConfiguration"),
                   ("Message", "The specified bucket does not have a website configuration"), ("BucketName", bucket)]
    return page(ctx, status, details)


def page(ctx: RequestContext, status: int, details: list[tuple[str, str]]) -> HttpResponse:
    """An error as the website endpoint writes it: an HTML page, and the code and message as headers."""
    details = [*details, ("RequestId", ctx.request_id), ("HostId", host_id(ctx))]
    items = "".join(f"<li>{escape(name)}: {escape(value)}</li>\n" for name, value in details)
    title = _TITLES[status]
    body = (f"<html>\n<head><title>{title}</title></head>\n<body>\n<h1>{title}</h1>\n<ul>\n{items}</ul>\n"
            "<hr/>\n</body>\n</html>\n").encode()
    fields = dict(details)
    headers = [("Content-Type", "text/html; charset=utf-8"), ("x-amz-error-code", fields["Code"]),
               ("x-amz-error-message", fields["Message"])]
    if ctx.request.method == "HEAD":
        return HttpResponse(status, [*headers, ("Content-Length", str(len(body)))])
    return HttpResponse(status, headers, body)
