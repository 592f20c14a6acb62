"""Which service and which wire protocol a request is for.

Signals, strongest first: the SigV4 credential scope (header or presigned query), `X-Amz-Target`, the
query `Action`, then the shape of the URL. Whatever is left over (anonymous GETs, browser form POSTs,
CORS preflights, virtual-hosted bucket names) belongs to S3.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.gateway.http import HttpRequest
from conveyor.gateway.sigv4 import Signature
from conveyor.services.s3.hosts import virtual_host
from conveyor.services.sqs.urls import path_address

if TYPE_CHECKING:
    from conveyor.services.base import Service

# Services whose SigV4 signing name differs from their registry name.
_SIGNING_ALIASES = {"execute-api": "lambda"}


def bucket_from_host(host: str) -> str | None:
    """The bucket of a virtual-hosted S3 request (`photos.s3.us-east-2.amazonaws.com`, `photos.localhost`...);
    conveyor.services.s3.hosts knows the names."""
    found = virtual_host(host)
    return found.bucket if found else None


class Router:
    def __init__(self, services: dict[str, Service]) -> None:
        self.services = services
        self.by_target: dict[str, str] = {}
        self.by_signing_name: dict[str, str] = {}
        for name, service in services.items():
            model = getattr(service, "model", None)
            prefix = model.metadata.get("targetPrefix") if model is not None else None
            if prefix:
                self.by_target[prefix] = name
            self.by_signing_name[service.signing_name or name] = name

    def service_for(self, request: HttpRequest, sig: Signature | None, form_action: str | None,
                    signing_name: str | None = None) -> str | None:
        """`signing_name`: the scope's service when the signature could not be parsed."""
        signing_name = sig.service if sig is not None else signing_name
        if signing_name is not None:
            name = _SIGNING_ALIASES.get(signing_name, signing_name)
            return self.by_signing_name.get(name, name)
        target = request.headers.get("x-amz-target")
        if target:
            return self.by_target.get(target.partition(".")[0])
        if form_action is not None:
            return self._service_for_action(request, form_action)
        if "s3" in self.services:
            return "s3"
        return None

    def _service_for_action(self, request: HttpRequest, action: str) -> str | None:
        # Unsigned query requests (auth off, curl): the SQS queue path is the one unambiguous hint.
        if path_address(request.path) is not None and "sqs" in self.services:
            return "sqs"
        for name in ("sqs", "sns", "sts", "iam"):
            service = self.services.get(name)
            if service is not None and (
                action in service.model.operation_names or action in service.extra_query_actions
            ):
                return name
        return None


def protocol_for(service: Service, request: HttpRequest) -> str:
    """json when the client sends X-Amz-Target, query when it sends a form or ?Action=."""
    protocols = service.model.metadata.get("protocols") or [service.model.protocol]
    if request.headers.get("x-amz-target") and "json" in (*protocols, getattr(service, "extra_protocol", "")):
        return "json"
    if getattr(service, "query_model", None) is not None or "query" in protocols:
        content_type = request.headers.get("content-type") or ""
        if content_type.startswith("application/x-www-form-urlencoded") or "Action=" in request.query_string:
            return "query"
    return protocols[0]
