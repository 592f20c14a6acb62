"""Which service a request is for.

Before any of them, a service's data plane may claim a request by its Host or path (API Gateway's
`{api}.execute-api.localhost` and `/_aws/execute-api/`): those are not API calls at all.

Signals, strongest first: the SigV4 credential scope (header or presigned query), `X-Amz-Target`, the
query `Action` (with a service's own paths, such as SQS queue URLs, before the action's name), then the
service that takes whatever is left over (S3: anonymous GETs, browser form POSTs, CORS preflights,
virtual-hosted bucket names).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from conveyor.protocol.models import model_metadata
from conveyor.wire import HttpRequest

if TYPE_CHECKING:
    from conveyor.services.base import DataPlane, Service


class Router:
    def __init__(self, services: Mapping[str, Service]) -> None:
        self.services = services
        self.by_target: dict[str, str] = {}
        self.by_signing_name: dict[str, str] = {}
        self.fallback: str | None = None
        for name, service in services.items():
            prefix = model_metadata(service.name).get("targetPrefix")
            if prefix:
                self.by_target[prefix] = name
            for signing_name in (service.signing_name or name, *service.signing_aliases):
                self.by_signing_name[signing_name] = name
            if service.takes_unsigned:
                self.fallback = name
        self.data_planes = [s.data_plane for s in services.values() if s.data_plane is not None]

    def data_plane_for(self, request: HttpRequest) -> DataPlane | None:
        """The data plane that claims the request (by Host or path), if any."""
        for plane in self.data_planes:
            if plane.claims(request):
                return plane
        return None

    def service_for(self, request: HttpRequest, signing_name: str | None, form_action: str | None) -> str | None:
        """The registry name of the service (or, when none of ours, the signing name the request named).
        `signing_name`: the credential scope's service, also when the rest of the signature is malformed."""
        if signing_name is not None:
            return self.by_signing_name.get(signing_name, signing_name)
        target = request.headers.get("x-amz-target")
        if target:
            return self.by_target.get(target.partition(".")[0])
        if form_action is not None:
            return self._service_for_action(request, form_action)
        return self.fallback

    def _service_for_action(self, request: HttpRequest, action: str) -> str | None:
        # Unsigned query requests (auth off, curl): a service's own path is the one unambiguous hint.
        for name, service in self.services.items():
            if service.owns_path(request.path):
                return name
        for name, service in self.services.items():
            form_codec = service.codecs.get("query") or service.codecs.get("ec2")  # both are forms
            if form_codec is not None and (
                action in form_codec.model.operation_names or action in service.extra_query_actions
            ):
                return name
        return None
