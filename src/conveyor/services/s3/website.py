"""Requests to a bucket's website endpoint (`BUCKET.s3-website-REGION.amazonaws.com`,
`BUCKET.s3-website.REGION.amazonaws.com`, and locally `BUCKET.s3-website.localhost`), answered as AWS
answers them (https://docs.aws.amazon.com/AmazonS3/latest/userguide/WebsiteEndpoints.html):

- only GET and HEAD, by anonymous readers: an object is served only where the bucket policy (or a public
  ACL) lets anyone read it, else 403; a missing key is 404 only to those who may also list the bucket;
- a key ending in `/` (the root too) serves that "directory"'s index document; a key that is not an object
  but has an index document below it is redirected (302) to the same path with a trailing slash; there
  is never a listing (https://docs.aws.amazon.com/AmazonS3/latest/userguide/IndexDocumentSupport.html);
- errors are HTML pages (with x-amz-error-* headers), or the bucket's error document, with the error's
  status (https://docs.aws.amazon.com/AmazonS3/latest/userguide/CustomErrorDocSupport.html);
- redirects: every request (RedirectAllRequestsTo), an object's x-amz-website-redirect-location, and
  routing rules matched by key prefix and/or the error code a request would get
  (https://docs.aws.amazon.com/AmazonS3/latest/userguide/how-to-page-redirect.html).
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from conveyor.ports import Reader
from conveyor.services.s3 import origin
from conveyor.services.s3.errors import host_id
from conveyor.wire import HttpResponse, RequestContext, ServiceError

if TYPE_CHECKING:
    from conveyor.services.s3.core import Core

_TITLES = {403: "403 Forbidden", 404: "404 Not Found", 405: "405 Method Not Allowed"}
_ANONYMOUS = Reader()


@dataclass
class _Failure:
    status: int
    details: list[tuple[str, str]]


def respond(core: Core, ctx: RequestContext, bucket: str) -> HttpResponse:
    req = ctx.request
    if req.method not in ("GET", "HEAD"):
        return page(ctx, 405, [("Code", "MethodNotAllowed"),
                               ("Message", "The specified method is not allowed against this resource."),
                               ("Method", req.method), ("ResourceType", "OBJECT")])
    row = core.store.bucket(bucket)
    if row is None:
        return page(ctx, 404, [("Code", "NoSuchBucket"), ("Message", "The specified bucket does not exist"),
                               ("BucketName", bucket)])
    config: dict[str, Any] | None = row.config.get("website")
    if not config:
        return page(ctx, 404, [("Code", "NoSuchWebsiteConfiguration"),
                               ("Message", "The specified bucket does not have a website configuration"),
                               ("BucketName", bucket)])
    path = req.path.partition("?")[0]
    if "RedirectAllRequestsTo" in config:
        target = config["RedirectAllRequestsTo"]
        protocol = target.get("Protocol") or "http"
        return _redirect(301, f"{protocol}://{target['HostName']}{path}")
    key = unquote(path[1:])
    rules: list[dict[str, Any]] = config.get("RoutingRules") or []
    redirect = _routing_redirect(ctx, rules, key, None)
    if redirect is not None:
        return redirect
    suffix = config["IndexDocument"]["Suffix"]
    wanted = key + suffix if key == "" or key.endswith("/") else key
    served = _serve(core, ctx, bucket, wanted)
    if isinstance(served, HttpResponse):
        return served
    if key and not key.endswith("/") and core.store.object(bucket, key) is None:
        # A "directory" named without its slash (not an object, whether the caller would be told 404 or 403 of it): AWS
        # redirects to the slash form when its index document is there to serve.
        below = _serve(core, ctx, bucket, f"{key}/{suffix}")
        if isinstance(below, HttpResponse):
            return _redirect(302, "/" + quote(key) + "/")
    redirect = _routing_redirect(ctx, rules, key, served.status)
    if redirect is not None:
        return redirect
    return _error_document(core, ctx, bucket, config, served)


def _serve(core: Core, ctx: RequestContext, bucket: str, key: str) -> HttpResponse | _Failure:
    """The object as the website serves it, or why it is not served."""
    try:
        found = origin.open_object(core, bucket, key, _ANONYMOUS, None)
    except ServiceError as error:
        if error.code == "NoSuchKey":
            return _Failure(404, [("Code", "NoSuchKey"), ("Message", "The specified key does not exist."),
                                  ("Key", key)])
        return _Failure(403, [("Code", "AccessDenied"), ("Message", "Access Denied")])
    obj = core.store.object(bucket, key)
    location = obj.meta.get("WebsiteRedirectLocation") if obj is not None else None
    if location:
        return _redirect(301, str(location))
    headers = [*found.headers, ("ETag", found.etag), ("Last-Modified", origin.http_date(found.last_modified)),
               ("Content-Length", str(found.size))]
    if ctx.request.method == "HEAD" or found.size == 0:
        return HttpResponse(200, headers)
    return HttpResponse(200, headers, stream=found.read(0, found.size - 1))


def _routing_redirect(ctx: RequestContext, rules: list[dict[str, Any]], key: str,
                      error: int | None) -> HttpResponse | None:
    """The first routing rule whose condition holds: before the object is read (`error` None) only rules
    without an error-code condition apply; after an error, those whose code is the error's."""
    for rule in rules:
        condition = rule.get("Condition") or {}
        prefix = condition.get("KeyPrefixEquals")
        code = condition.get("HttpErrorCodeReturnedEquals")
        if prefix is not None and not key.startswith(prefix):
            continue
        if (code is None) != (error is None) or (code is not None and int(code) != error):
            continue
        redirect = rule["Redirect"]
        if redirect.get("ReplaceKeyWith") is not None:
            new_key = redirect["ReplaceKeyWith"]
        elif redirect.get("ReplaceKeyPrefixWith") is not None:
            new_key = redirect["ReplaceKeyPrefixWith"] + key[len(prefix or ""):]
        else:
            new_key = key
        host = redirect.get("HostName") or ctx.request.host
        protocol = redirect.get("Protocol") or "http"
        return _redirect(int(redirect.get("HttpRedirectCode") or 301), f"{protocol}://{host}/{quote(new_key)}")
    return None


def _error_document(core: Core, ctx: RequestContext, bucket: str, config: dict[str, Any],
                    failure: _Failure) -> HttpResponse:
    """A 4XX error answers with the bucket's error document, when there is one it may serve."""
    key = (config.get("ErrorDocument") or {}).get("Key")
    if not key:
        return page(ctx, failure.status, failure.details)
    document = _serve(core, ctx, bucket, key)
    if isinstance(document, HttpResponse) and document.status == 200:
        document.status = failure.status
        return document
    nested = document.details if isinstance(document, _Failure) else [("Code", "AccessDenied")]
    return page(ctx, failure.status, failure.details, nested)


def _redirect(status: int, location: str) -> HttpResponse:
    return HttpResponse(status, [("Location", location), ("Content-Length", "0")])


def page(ctx: RequestContext, status: int, details: list[tuple[str, str]],
         error_document_failure: list[tuple[str, str]] | None = None) -> HttpResponse:
    """An error as the website endpoint writes it: an HTML page, and the code and message as headers; when
    the error document could not be served either, a second section says why."""
    details = [*details, ("RequestId", ctx.request_id), ("HostId", host_id(ctx))]
    items = "".join(f"<li>{escape(name)}: {escape(value)}</li>\n" for name, value in details)
    title = _TITLES.get(status, str(status))
    nested = ""
    if error_document_failure:
        nested_items = "".join(f"<li>{escape(name)}: {escape(value)}</li>\n" for name, value in error_document_failure)
        nested = ("<h3>An Error Occurred While Attempting to Retrieve a Custom Error Document</h3>\n<ul>\n"
                  f"{nested_items}</ul>\n")
    body = (f"<html>\n<head><title>{title}</title></head>\n<body>\n<h1>{title}</h1>\n<ul>\n{items}</ul>\n"
            f"{nested}<hr/>\n</body>\n</html>\n").encode()
    fields = dict(details)
    headers = [("Content-Type", "text/html; charset=utf-8"), ("x-amz-error-code", fields["Code"]),
               ("x-amz-error-message", fields["Message"])]
    if ctx.request.method == "HEAD":
        return HttpResponse(status, [*headers, ("Content-Length", str(len(body)))])
    return HttpResponse(status, headers, body)
