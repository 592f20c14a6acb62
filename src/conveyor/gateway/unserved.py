"""Requests for AWS services Conveyor does not serve, answered in the shape their clients parse.

`aws rds describe-db-instances` against Conveyor should print "Conveyor does not serve the service 'rds'", not
"invalid XML received": the service is found in botocore's models by the signature's signing name, the
`X-Amz-Target` prefix or an AWS host name, and the error is serialized in that service's own protocol
(query XML, json `__type`, rest-json `x-amzn-ErrorType`, rest-xml `<Error>`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from conveyor.protocol.base import Codec

# botocore's models and the codecs are imported by the first refusal, not by every server at start.

# The protocols whose errors Conveyor can write, in the order a client would pick them.
_WRITABLE = ("json", "rest-json", "rest-xml", "query", "ec2")
_QUERY_LIKE = ("query", "ec2")  # ec2 clients read query's <ErrorResponse> too


@dataclass
class Refusal:
    """The error to answer, and the codec that writes it in the shape the client parses (None: plain
    JSON, for requests that name no service at all)."""

    codec: Codec | None
    error: ServiceError


@functools.cache
def _indexes() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """signing name, X-Amz-Target prefix and endpoint prefix -> botocore service name."""
    by_signing: dict[str, str] = {}
    by_target: dict[str, str] = {}
    by_endpoint: dict[str, str] = {}
    from conveyor.protocol.models import all_metadata

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


def refusal(ctx: RequestContext, signing_name: str | None, name: str | None, served: list[str]) -> Refusal:
    """The refusal of a request for a service Conveyor does not serve, in that service's protocol.
    `signing_name`: its signature's scope; `name`: what the router made of the request, if anything."""
    service = identify(ctx, signing_name)
    if service is None:
        json = bool(ctx.request.headers.get("x-amz-target"))
        protocol = "json" if json else ("query" if name is not None or ctx.protocol == "query" else "")
        codec = stand_in_codec(name or "conveyor", protocol)
        ctx.protocol = protocol
        if name is not None:  # a signing name no model has: say so, in the shape of the request
            return Refusal(codec, _not_served(name, served))
        return Refusal(codec, ServiceError("InvalidAction", "Could not tell which service this request is for."))
    from conveyor.protocol.models import all_metadata

    metadata = all_metadata()[service]
    ctx.service = service
    protocol = ctx.protocol = _protocol(metadata, ctx)
    error = _not_served(metadata.get("signingName") or metadata.get("endpointPrefix") or service, served)
    if protocol in _QUERY_LIKE:
        ctx.protocol = "query"
        # Query services' code for an action the endpoint does not know ("The action or operation
        # requested is invalid"): https://docs.aws.amazon.com/IAM/latest/APIReference/CommonErrors.html
        error.code = "InvalidAction"
    return Refusal(_codec(service, metadata, protocol), error)


def stand_in_codec(name: str, protocol: str) -> Codec | None:
    """A codec for errors of a request whose service is not known (yet): its protocol's shape, or None
    (plain JSON) when not even the protocol is known."""
    if protocol not in ("json", "query"):
        return None
    metadata = {"endpointPrefix": name, "protocol": protocol, "apiVersion": "2010-05-08", "jsonVersion": "1.0"}
    return _codec(name, metadata, protocol)


def _codec(name: str, metadata: dict[str, Any], protocol: str) -> Codec:
    """A codec of the protocol over an empty model of the service, so errors carry its namespace."""
    from botocore.model import ServiceModel

    from conveyor.protocol.registry import CODEC_CLASSES

    model = ServiceModel({"metadata": metadata, "operations": {}, "shapes": {}}, service_name=name)
    return CODEC_CLASSES["query" if protocol in _QUERY_LIKE else protocol](model)


def _not_served(name: str, served: list[str]) -> ServiceError:
    # UnknownOperationException: what AWS's JSON services answer for an operation (X-Amz-Target) they do
    # not know; a client error (400), so SDKs report it at once instead of retrying.
    return ServiceError("UnknownOperationException",
                        f"Conveyor does not serve the service '{name}' (it serves {', '.join(served)}).", 400)


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
