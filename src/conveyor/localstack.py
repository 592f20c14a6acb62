"""LocalStack's readiness endpoints, so CI scripts and compose files written for LocalStack work unchanged.

    GET|HEAD /_localstack/health      {"services": {"s3": "running", ...}, "edition": ..., "version": ...}
    GET /_localstack/init             {"completed": {"BOOT": true, "START": true, "READY": ..., ...}, "scripts": []}
    GET /_localstack/init/STAGE       {"completed": ..., "scripts": []}

The shapes follow LocalStack's own resources (HealthResource and InitScriptsResource in
localstack/services/internal.py, documented at https://docs.localstack.cloud/references/internal-endpoints/).
A service is "available" until its first use starts it (LocalStack's word for a service it has not loaded
yet), then "running" while it serves and "error" when its health says otherwise; services Conveyor does
not serve are absent, so a script waiting for one of them waits in vain rather than being told a lie.
Conveyor runs no init scripts; its READY stage completes once the pipeline `conveyor up` applies on start
is in place (the resources a compose file's init script would have created).
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from conveyor import __version__
from conveyor.wire import HttpRequest, HttpResponse

PREFIX = "/_localstack/"
EDITION = "conveyor"
_STAGES = ("BOOT", "START", "READY", "SHUTDOWN")


class _Healthy(Protocol):
    def health(self) -> dict[str, Any]: ...


class _Services(Protocol):
    def names(self) -> list[str]: ...

    def started(self, name: str) -> bool: ...

    def __getitem__(self, name: str) -> _Healthy: ...


class ServerState(Protocol):
    """What the probes read of the running server (the App, which passes itself)."""

    @property
    def services(self) -> _Services: ...

    @property
    def started(self) -> bool: ...

    @property
    def ready(self) -> bool: ...


def handles(request: HttpRequest) -> bool:
    return request.path.startswith(PREFIX)


def _json(payload: object, status: int = 200, headers: list[tuple[str, str]] | None = None) -> HttpResponse:
    return HttpResponse(status, [("Content-Type", "application/json"), *(headers or [])],
                        json.dumps(payload).encode())


# LocalStack's health names API Gateway's both APIs (REST and HTTP) "apigateway".
_LOCALSTACK_NAMES = {"apigatewayv2": "apigateway"}


def _state(app: ServerState, name: str) -> str:
    """LocalStack's word for a service: "available" until it is first used (LocalStack loads its services on
    first request too), then "running", or "error" when it is not."""
    if not app.services.started(name):
        return "available"
    return "running" if app.services[name].health().get("status") == "running" else "error"


def answer(app: ServerState, request: HttpRequest) -> HttpResponse:
    path = request.path.rstrip("/")
    method = request.method
    if path == "/_localstack/health":
        if method not in ("GET", "HEAD"):
            # LocalStack's POST (restart, kill) and PUT (arbitrary state) manage its own container.
            return _json({"error": f"Conveyor answers GET and HEAD on {path}, not {method}."}, 405,
                         [("Allow", "GET, HEAD")])
        services = {_LOCALSTACK_NAMES.get(name, name): _state(app, name) for name in app.services.names()}
        return _json({"services": services, "edition": EDITION, "version": __version__})
    if method not in ("GET", "HEAD"):
        return _json({"error": f"Conveyor answers GET and HEAD on {path}, not {method}."}, 405,
                     [("Allow", "GET, HEAD")])
    completed = {"BOOT": True, "START": app.started, "READY": app.started and app.ready, "SHUTDOWN": False}
    if path == "/_localstack/init":
        return _json({"completed": completed, "scripts": []})
    if path.startswith("/_localstack/init/") and path.count("/") == 3:
        stage = path.rsplit("/", 1)[1].upper()
        if stage in _STAGES:
            return _json({"completed": completed[stage], "scripts": []})
        return _json({"error": f"no such stage {stage.lower()}"}, 404)
    return _json({"error": f"Conveyor answers LocalStack's /_localstack/health and /_localstack/init, "
                           f"not {path}."}, 404)
