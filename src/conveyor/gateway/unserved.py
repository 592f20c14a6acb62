"""Requests for AWS services Conveyor does not serve, answered in the shape their clients parse.

`aws rds describe-db-instances` against Conveyor should print "Conveyor does not serve the service 'rds'", not
"invalid XML received": the service is found in botocore's models by the signature's signing name, the
`X-Amz-Target` prefix or an AWS host name, and the error is serialized in that service's own protocol
(query XML, json `__type`, rest-json `x-amzn-ErrorType`, rest-xml `<Error>`).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from botocore.model import ServiceModel

from conveyor.protocol.models import all_metadata
from conveyor.services.base import RequestContext, Service, ServiceError

if TYPE_CHECKING:
    from conveyor.app import App

# The protocols whose errors Conveyor can write, in the order a client would pick them.
_WRITABLE = ("json", "rest-json", "rest-xml", "query", "ec2")
_QUERY_LIKE = ("query", "ec2")  # ec2 clients read query's <ErrorResponse> too


class UnservedService(Service):
    """Stands for a service Conveyor does not serve, so its errors carry that service's namespace."""

    def __init__(self, app: App, name: str, metadata: dict[str, Any]) -> None:
        super().__init__(app)
        self.name = name
        self.model = ServiceModel({"metadata": metadata, "operations": {}, "shapes": {}}, service_name=name)


@functools.cache
def _indexes() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """signing name, X-Amz-Target prefix and endpoint prefix -> botocore service name."""
    by_signing: dict[str, str] = {}
    by_target: dict[str, str] = {}
    by_endpoint: dict[str, str] = {}
    for name, meta in sorted(all_metadata().items()):
        endpoint = meta.get("endpointPrefix") or name
        # A service whose botocore name is its signing name wins a shared signing name (dynamodb over
        # dynamodbstreams, s3 over s3control).
        signing = meta.get("signingName") or endpoint
        if signing not in by_signing or name == signing:
            by_signing[signing] = name
        if meta.get("targetPrefix"):
            by_target.setdefault(meta["targetPrefix"], name)
        by_endpoint.setdefault(endpoint, name)
    return by_signing, by_target, by_endpoint


def identify(ctx: RequestContext, signing_name: str | None) -> str | None:
    """The botocore name of the service a request is for, from whatever names it."""
    by_signing, by_target, by_endpoint = _indexes()
    if signing_name is not None and signing_name in by_signing:
        return by_signing[signing_name]
    target = ctx.request.headers.get("x-amz-target")
    if target and target.partition(".")[0] in by_target:
        return by_target[target.partition(".")[0]]
    host = ctx.host.lower().rpartition(":")[0] or ctx.host.lower()
    if host.endswith((".amazonaws.com", ".amazonaws.com.cn")):  # e.g. rds.amazonaws.com via /etc/hosts
        return by_endpoint.get(host.split(".", 1)[0])
    return None


def refuse(app: App, ctx: RequestContext, signing_name: str | None, name: str | None) -> None:
    """Raise the refusal of a request for a service Conveyor does not serve, in that service's protocol;
    returns only when the request names no service at all. `signing_name`: its signature's scope."""
    service = identify(ctx, signing_name)
    if service is None:
        if name is not None:  # a signing name no model has: say so, in the shape of the request
            ctx.protocol = ctx.protocol or ("json" if ctx.request.headers.get("x-amz-target") else "query")
            raise _not_served(app, name)
        if ctx.request.headers.get("x-amz-target"):
            ctx.protocol = "json"
        return
    metadata = all_metadata()[service]
    ctx.app_service = UnservedService(app, service, metadata)
    ctx.service = service
    ctx.protocol = _protocol(metadata, ctx)
    error = _not_served(app, metadata.get("signingName") or metadata.get("endpointPrefix") or service)
    if ctx.protocol in _QUERY_LIKE:
        ctx.protocol = "query"
        # Query services' code for an action the endpoint does not know ("The action or operation
        # requested is invalid"): https://docs.aws.amazon.com/IAM/latest/APIReference/CommonErrors.html
        error.code = "InvalidAction"
    raise error


def _not_served(app: App, name: str) -> ServiceError:
    served = ", ".join(sorted(app.services))
    # UnknownOperationException: what AWS's JSON services answer for an operation (X-Amz-Target) they do
    # not know; a client error (400), so SDKs report it at once instead of retrying.
    return ServiceError("UnknownOperationException",
                        f"Conveyor does not serve the service '{name}' (it serves {served}).", 400)


def _protocol(metadata: dict[str, Any], ctx: RequestContext) -> str:
    protocols = [str(p) for p in (metadata.get("protocols") or [metadata.get("protocol")]) if p in _WRITABLE]
    if not protocols:
        return "json"
    if ctx.request.headers.get("x-amz-target") and "json" in protocols:
        return "json"
    content_type = ctx.request.headers.get("content-type") or ""
    if content_type.startswith("application/x-www-form-urlencoded") or "Action=" in ctx.request.query_string:
        query = [p for p in protocols if p in _QUERY_LIKE]
        if query:
            return query[0]
    return protocols[0]
