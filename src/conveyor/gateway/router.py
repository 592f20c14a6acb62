"""Which service a request is for.

Before any of them, a service's data plane may claim a request by its Host or path (API Gateway's
`{api}.execute-api.localhost` and `/_aws/execute-api/`): those are not API calls at all.

Signals, strongest first: the SigV4 credential scope (header or presigned query), `X-Amz-Target`, the
query `Action` (with a service's own paths, such as SQS queue URLs, before the action's name), then the
service that takes whatever is left over (S3: anonymous GETs, browser form POSTs, CORS preflights,
virtual-hosted bucket names).

Routing reads the services' catalog entries (conveyor.services.catalog), not the services: a service is
imported and started only once a request is routed to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from conveyor.services.base import PlaneHint
from conveyor.wire import HttpRequest

if TYPE_CHECKING:
    from conveyor.services.base import DataPlane, Service, ServiceEntry


class ServiceDirectory(Protocol):
    """The services of the App (conveyor.service_set.ServiceSet): as a Mapping, those started so far."""

    @property
    def entries(self) -> Mapping[str, ServiceEntry]:
        """Every service this build serves, started or not, by registry name."""
        ...

    def __getitem__(self, name: str) -> Service: ...

    def names(self) -> list[str]: ...

    def started(self, name: str) -> bool: ...

    async def use(self, name: str) -> Service:
        """The started service, starting it first if need be."""
        ...


class Router:
    def __init__(self, services: ServiceDirectory) -> None:
        self.services = services
        self.by_target: dict[str, str] = {}
        self.by_signing_name: dict[str, str] = {}
        self.fallback: str | None = None
        for name, entry in services.entries.items():
            if entry.target_prefix:
                self.by_target[entry.target_prefix] = name
            for signing_name in entry.signs_as:
                self.by_signing_name[signing_name] = name
            if entry.takes_unsigned:
                self.fallback = name
        # Services that may have a data plane, with the hint of which requests it may claim: those the catalog
        # gives a hint, and those started with the server (registered outside the catalog).
        self.planes = [(name, entry.may_claim) for name, entry in services.entries.items()
                       if entry.may_claim is not None or entry.eager]
        # Every hint at once: a request none of them matches is claimed by no data plane, started or not (a
        # hint catches a superset of what its plane claims). None when a plane has no hint to go by.
        hints = [hint for _, hint in self.planes]
        self.any_hint: PlaneHint | None = None
        if all(hint is not None for hint in hints):
            self.any_hint = PlaneHint(hosts=tuple(h for hint in hints if hint for h in hint.hosts),
                                      paths=tuple(p for hint in hints if hint for p in hint.paths))

    def started_plane_for(self, request: HttpRequest) -> tuple[bool, DataPlane | None]:
        """(known, plane): the data plane that claims the request, known without starting a service (nearly
        every request); known is False when a service that is not started yet may claim it (ask
        `data_plane_for`, which starts it)."""
        host = None  # read once, for every hint, when one is asked
        if self.any_hint is not None:
            host = (request.headers.get("host") or "").lower()
            if not self.any_hint.matches(host, request.path):
                return True, None  # (nearly every request: one look instead of one per service)
        for name, hint in self.planes:
            if not self.services.started(name):
                if hint is None:
                    continue
                if host is None:
                    host = (request.headers.get("host") or "").lower()
                if not hint.matches(host, request.path):
                    continue
                return False, None
            plane = self.services[name].data_plane
            if plane is not None and plane.claims(request):
                return True, plane
        return True, None

    async def data_plane_for(self, request: HttpRequest) -> DataPlane | None:
        """The data plane that claims the request (by Host or path), if any; its service is started first
        when the request may be for it."""
        host = (request.headers.get("host") or "").lower()
        for name, hint in self.planes:
            if not self.services.started(name):
                if hint is None or not hint.matches(host, request.path):
                    continue
                await self.services.use(name)
            plane = self.services[name].data_plane
            if plane is not None and plane.claims(request):
                return plane
        return None

    async def service_for(self, request: HttpRequest, signing_name: str | None, form_action: str | None) -> str | None:
        """The registry name of the service (or, when none of ours, the signing name the request named).
        `signing_name`: the credential scope's service, also when the rest of the signature is malformed."""
        if signing_name is not None:
            return self.by_signing_name.get(signing_name, signing_name)
        target = request.headers.get("x-amz-target")
        if target:
            return self.by_target.get(target.partition(".")[0])
        if form_action is not None:
            return await self._service_for_action(request, form_action)
        return self.fallback

    async def _service_for_action(self, request: HttpRequest, action: str) -> str | None:
        # Unsigned query requests (auth off, curl): a service's own path is the one unambiguous hint. Rare
        # enough that every service is started to be asked.
        served = [(name, await self.services.use(name)) for name in self.services.entries]
        for name, service in served:
            if service.owns_path(request.path):
                return name
        for name, service in served:
            form_codec = service.codecs.get("query") or service.codecs.get("ec2")  # both are forms
            if form_codec is not None and (
                action in form_codec.model.operation_names or action in service.extra_query_actions
            ):
                return name
        return None
