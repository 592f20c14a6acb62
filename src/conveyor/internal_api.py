"""Conveyor's own HTTP API under /_conveyor/: health, reset, the manual clock, metrics (Prometheus), status,
worker pools, the dashboard (conveyor.dashboard), and each service's own endpoints (/_conveyor/functions is
Lambda's); and LocalStack's probes."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from conveyor import __version__, localstack
from conveyor.clock import ManualClock
from conveyor.dashboard import web as dashboard_web
from conveyor.runtime.pool import PoolError, PoolSpec
from conveyor.wire import HttpRequest, HttpResponse, RequestContext, ServiceError

if TYPE_CHECKING:
    from conveyor.app import App

PREFIX = "/_conveyor/"


def json_response(payload: Any, status: int = 200) -> HttpResponse:
    return HttpResponse(status, [("Content-Type", "application/json")], json.dumps(payload, indent=1).encode())


class InternalApi:
    """What the gateway hands requests for Conveyor itself to (conveyor.gateway.chain.ControlApi)."""

    def __init__(self, app: App) -> None:
        self.app = app

    def may_answer_open(self, request: HttpRequest) -> bool:
        """Whether `open_answer` may answer the request: LocalStack's probes and the dashboard's paths."""
        return localstack.handles(request) or dashboard_web.is_dashboard_path(request.path)

    async def open_answer(self, ctx: RequestContext) -> HttpResponse | None:
        if localstack.handles(ctx.request):
            ctx.service = "conveyor"
            return localstack.answer(self.app, ctx.request)
        # A browser's dashboard requests, admitted by the dashboard's own rules (conveyor.dashboard.sessions)
        return await self.app.dashboard_web.browser(ctx)

    async def answer(self, ctx: RequestContext) -> HttpResponse:
        return await handle(self.app, ctx)

    def error(self, ctx: RequestContext, error: ServiceError) -> HttpResponse:
        # The code an SDK reports: a service's legacy query code where it has one (SQS's InvalidParameterValue
        # for its JSON shape InvalidParameterValueException).
        return json_response({"__type": error.query_code or error.code, "message": error.message}, error.status)


async def handle(app: App, ctx: RequestContext) -> HttpResponse:
    path = ctx.request.path[len(PREFIX):].strip("/")
    method = ctx.request.method
    if path == "health" and method in ("GET", "HEAD"):
        return json_response(
            {"version": __version__, "services": _health(app),
             "clock": "manual" if app.clock.manual else "system", "auth": app.config.auth,
             "disk": app.disk.health(), "region": app.config.region}
        )
    if path == "reset" and method == "POST":
        await app.reset()
        return json_response({"reset": True})
    if path == "clock":
        return await _clock(app, ctx)
    if path == "metrics" and method == "GET":
        body, content_type = app.exposition.render(ctx.request.headers.get("accept"))
        return HttpResponse(200, [("Content-Type", content_type), ("Cache-Control", "no-store")], body)
    if dashboard_web.is_dashboard_path(ctx.request.path):
        return await app.dashboard_web.answer(ctx, None)  # a signed caller: the `conveyor` command, scripts
    if path == "status" and method == "GET":
        return json_response(_status(app))
    if path == "iam/denials" and method == "GET":  # what --iam report would deny, --iam enforce denied
        return json_response(app.enforcer.snapshot())
    if path == "regions" or path.startswith("regions/"):
        return _regions(app, path.split("/"), method)
    if path.startswith(("pools", "workers")):
        try:
            return await _pools(app, ctx, path.split("/"), method)
        except PoolError as exc:
            raise ServiceError("InvalidRequest", str(exc))
    parts = path.split("/")
    for name, entry in app.services.entries.items():
        if parts[0] and parts[0] == entry.internal_prefix:
            service = await app.services.use(name)
            answer = await service.internal(ctx, parts[1:])
            if answer is not NotImplemented:
                return json_response(answer)
    raise ServiceError("NotFound", f"No such Conveyor endpoint: {method} {ctx.request.path}", 404)


async def _clock(app: App, ctx: RequestContext) -> HttpResponse:
    clock = app.clock
    if ctx.request.method == "POST":
        if not isinstance(clock, ManualClock):
            raise ServiceError("InvalidRequest", "The clock can be moved only when started with --clock manual.", 409)
        try:
            body = json.loads(await ctx.request.body() or b"{}")
            seconds = float(body.get("advance", 0))
        except (ValueError, AttributeError, TypeError):
            raise ServiceError("InvalidRequest", 'Send {"advance": SECONDS}.')
        if seconds < 0:
            raise ServiceError("InvalidRequest", "Time only moves forward.")
        clock.advance(seconds)
    return json_response({"now": clock.now(), "manual": clock.manual})


_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")


def _regions(app: App, parts: list[str], method: str) -> HttpResponse:
    """The region-outage drill: GET regions; POST regions/REGION/down and regions/REGION/up."""
    outages = app.outages
    if parts == ["regions"] and method == "GET":
        return json_response({"down": outages.snapshot(), "now": app.clock.now()})
    if len(parts) == 3 and parts[2] in ("down", "up") and method == "POST":
        region = parts[1]
        if not _REGION.match(region):
            raise ServiceError("InvalidRequest", f"{region} is not a region name (us-east-1, eu-west-3, ...).")
        if parts[2] == "down":
            return json_response({"region": region, "down_since": outages.take_down(region),
                                  "now": app.clock.now()})
        return json_response({"region": region, "was_down_since": outages.restore(region), "now": app.clock.now()})
    raise ServiceError("NotFound", f"No such Conveyor endpoint: {method} /_conveyor/{'/'.join(parts)}", 404)


async def _body_json(ctx: RequestContext) -> dict[str, Any]:
    try:
        body = json.loads(await ctx.request.body() or b"{}")
    except ValueError:
        raise ServiceError("InvalidRequest", "The body must be JSON.")
    if not isinstance(body, dict):
        raise ServiceError("InvalidRequest", "The body must be a JSON object.")
    return body


async def _pools(app: App, ctx: RequestContext, parts: list[str], method: str) -> HttpResponse:
    """Worker pools: GET/POST pools, DELETE pools/NAME, POST pools/NAME/scale, GET workers,
    POST workers/ID/kill."""
    pools = app.pools
    scaling, instances = app.ports.scaling, app.ports.instances
    if parts == ["pools"] and method == "GET":  # Auto Scaling groups too: the same supervision, other face
        return json_response({**(scaling.snapshot() if scaling is not None else {}), **pools.snapshot()})
    if parts == ["pools"] and method == "POST":
        pool = await pools.create(PoolSpec.from_dict(await _body_json(ctx)))
        return json_response(pool.snapshot(), 201)
    if len(parts) == 2 and parts[0] == "pools" and method == "DELETE":
        await pools.delete(parts[1])
        return json_response({"deleted": parts[1]})
    if len(parts) == 3 and parts[0] == "pools" and parts[2] == "scale" and method == "POST":
        desired = (await _body_json(ctx)).get("desired")
        if not isinstance(desired, int):
            raise ServiceError("InvalidRequest", 'Send {"desired": N}.')
        await pools.scale(parts[1], desired)
        return json_response(pools.get(parts[1]).snapshot())
    if parts == ["workers"] and method == "GET":
        groups = {**(scaling.snapshot() if scaling is not None else {}), **pools.snapshot()}
        return json_response([{**w, "pool": name} for name, snap in groups.items() for w in snap["workers"]])
    if len(parts) == 3 and parts[0] == "workers" and parts[2] == "kill" and method == "POST":
        if instances is not None and parts[1].startswith("i-") and instances.kill(parts[1]):
            return json_response({"killed": parts[1]})  # an instance's processes: its group replaces it
        await pools.kill(parts[1])
        return json_response({"killed": parts[1]})
    raise ServiceError("NotFound", f"No such Conveyor endpoint: {method} {ctx.request.path}", 404)


def _health(app: App) -> dict[str, Any]:
    """Each service's health; "available" for one not started yet (it starts on its first request), as
    LocalStack's health calls a service it has not loaded."""
    return {name: app.services[name].health() if app.services.started(name) else {"status": "available"}
            for name in app.services.names()}


def _status(app: App) -> dict[str, Any]:
    """The pipeline at a glance: each service's part (queue depths, functions...), pools and recent errors."""
    status: dict[str, Any] = {"queues": [], "functions": []}
    for service in app.services.values():
        status.update(service.status())
    status.update({"pools": app.pools.snapshot(), "recent_errors": list(app.metrics.recent_errors),
                   "region": app.config.region, "iam": app.enforcer.snapshot()})
    return status
