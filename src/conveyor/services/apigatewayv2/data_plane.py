"""The invoke URLs of HTTP APIs: a request to `{apiId}.execute-api.localhost:{port}/{stage}/{path}` (or to
`/_aws/execute-api/{apiId}/...`) goes through the stage's deployment to its route's integration.

In API Gateway's order (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html):
the stage the path names, else `$default`, else 404 {"message":"Not Found"}; CORS preflights answered
from the API's CORS configuration; the most specific route (route_keys); the stage's throttling; then the
integration. A Lambda function is invoked only if its resource policy lets apigateway.amazonaws.com invoke
it for the route's execute-api ARN (`arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/METHOD/PATH`), or the
integration names a role API Gateway may assume; otherwise, as on AWS, 500 {"message":"Internal Server
Error"}. A function error is 500 too, a throttled function 429, an integration timeout 503. Requests are
not signed: routes are open (authorization NONE).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from conveyor.services.apigatewayv2 import cors, events, http_proxy
from conveyor.services.apigatewayv2.records import DEFAULT_STAGE, ApiState
from conveyor.services.apigatewayv2.route_keys import Match, RouteTable
from conveyor.services.apigatewayv2.routes import function_arn
from conveyor.services.apigatewayv2.throttle import Throttles
from conveyor.services.apigatewayv2.urls import InvokeTarget, target
from conveyor.wire import HttpRequest, HttpResponse, RequestContext, ServiceError

if TYPE_CHECKING:
    from conveyor.config import Config
    from conveyor.ports import Ports
    from conveyor.services.apigatewayv2.catalog import Catalog

log = logging.getLogger("conveyor.apigateway")

PRINCIPAL = "apigateway.amazonaws.com"
MAX_BODY = 10 * 1024 * 1024  # an HTTP API's payload limit
_TABLES_KEPT = 256  # compiled route tables of recent deployments
# The body API Gateway answers for each status it makes itself.
_MESSAGES = {403: "Forbidden", 404: "Not Found", 413: "Request Entity Too Large", 429: "Too Many Requests",
             503: "Service Unavailable", 504: "Endpoint request timed out"}


def _failure(message: str) -> ServiceError:
    """An integration that could not answer: the client sees 500 {"message":"Internal Server Error"}, the
    reason goes to the log and to `conveyor status`'s recent errors."""
    return ServiceError("IntegrationFailure", message, 500)


class ExecuteApi:
    label = "execute-api"

    def __init__(self, config: Config, ports: Ports) -> None:
        self.config = config
        self.ports = ports
        self.catalog: Catalog | None = None  # set once the service has started
        self.throttles = Throttles()
        self._tables: dict[tuple[str, str], RouteTable] = {}
        self._running: set[asyncio.Future[Any]] = set()  # invocations that outlived their timeout

    def forget(self) -> None:
        self._tables.clear()
        self.throttles.clear()

    # -- conveyor.services.base.DataPlane ------------------------------------------------------------
    def claims(self, request: HttpRequest) -> bool:
        return target(request) is not None

    def error(self, ctx: RequestContext, error: ServiceError) -> HttpResponse:
        status = error.status if error.status in _MESSAGES else 500
        body = json.dumps({"message": _MESSAGES.get(status, "Internal Server Error")}).encode()
        return HttpResponse(status, [("Content-Type", "application/json"), ("apigw-requestid", ctx.request_id)], body)

    async def answer(self, ctx: RequestContext) -> HttpResponse:
        ctx.request_id = base64.b64encode(os.urandom(11)).decode()  # API Gateway's form: "JKJaXmPLvHcESHA="
        request = ctx.request
        where = target(request)
        if where is None or self.catalog is None:
            raise ServiceError("NotFound", "no such API", 404)
        state = self.catalog.apis.get(where.api_id)
        if state is None or (where.region is not None and where.region != state.region):
            raise ServiceError("NotFound", f"no API {where.api_id}", 404)
        outages = self.ports.outages
        if outages is not None and outages.is_down(state.region):
            raise ServiceError("ServiceUnavailable", f"region {state.region} is down (an outage drill)", 503)
        if state.doc.get("DisableExecuteApiEndpoint") and where.by_host:
            raise ServiceError("Forbidden", f"the default endpoint of API {state.api_id} is disabled", 403)
        stage, path = self._stage(state, where)
        deployment = state.deployments.get(stage.get("DeploymentId") or "")
        if deployment is None:
            raise ServiceError("NotFound", f"stage {stage['StageName']} has no deployment", 404)
        configured = state.cors
        if configured and cors.is_preflight(request):
            response = cors.preflight(configured, request)
        else:
            response = await self._route(ctx, state, stage, deployment, path, where.path)
            if configured:
                cors.decorate(configured, request, response)
        response.headers.append(("apigw-requestid", ctx.request_id))
        return response

    # -- the steps -------------------------------------------------------------------------------
    def _stage(self, state: ApiState, where: InvokeTarget) -> tuple[dict[str, Any], str]:
        """The stage the path names (and the path after it), else the $default stage with the whole path."""
        first, _, rest = where.path[1:].partition("/")
        name = unquote(first)
        if name and name != DEFAULT_STAGE and name in state.stages:
            return state.stages[name], "/" + rest
        if DEFAULT_STAGE in state.stages:
            return state.stages[DEFAULT_STAGE], where.path
        raise ServiceError("NotFound", f"API {state.api_id} has no stage {name!r} and no $default stage", 404)

    def _table(self, state: ApiState, deployment: dict[str, Any]) -> RouteTable:
        key = (state.api_id, deployment["DeploymentId"])
        table = self._tables.get(key)
        if table is None:
            if len(self._tables) >= _TABLES_KEPT:  # every change of an auto-deployed API is a new deployment
                self._tables.clear()
            table = self._tables[key] = RouteTable(deployment["_Snapshot"]["Routes"])
        return table

    async def _route(self, ctx: RequestContext, state: ApiState, stage: dict[str, Any],
                     deployment: dict[str, Any], path: str, raw_path: str) -> HttpResponse:
        """`path`: after the stage, what routes match; `raw_path`: as sent to the API, the stage included."""
        request = ctx.request
        match = self._table(state, deployment).select(request.method, path)
        if match is None:
            raise ServiceError("NotFound", f"no route matches {request.method} {path}", 404)
        route_key = match.route["RouteKey"]
        ctx.operation_name = route_key
        if not self.throttles.allow(state.api_id, stage, route_key, ctx.clock.now()):
            raise ServiceError("TooManyRequests", f"stage {stage['StageName']} throttles {route_key}", 429)
        integration_id = str(match.route.get("Target") or "").partition("/")[2]
        integration = next((i for i in deployment["_Snapshot"]["Integrations"]
                            if i["IntegrationId"] == integration_id), None)
        if integration is None:
            raise _failure(f"route {route_key} of API {state.api_id} has no integration")
        request.max_body = MAX_BODY
        body = await request.body()
        stage_name = stage["StageName"]
        facts = events.RequestFacts(
            account_id=self.config.account_id, api_id=state.api_id, stage=stage_name, route_key=route_key,
            resource_path=route_key if match.key.is_default else match.key.path,
            raw_path=raw_path,
            path_parameters=match.path_parameters, stage_variables=dict(stage.get("StageVariables") or {}),
            request_id=ctx.request_id, source_ip=request.client[0] if request.client else "127.0.0.1",
            now=ctx.clock.now())
        if integration["IntegrationType"] == "HTTP_PROXY":
            url = http_proxy.target_url(integration, route_key, path, match.path_parameters, request.query_string)
            return await http_proxy.forward(request, body, integration, url, events.added_headers(request, facts))
        return await self._invoke(state, stage_name, match, integration, request, body, facts)

    async def _invoke(self, state: ApiState, stage_name: str, match: Match, integration: dict[str, Any],
                      request: HttpRequest, body: bytes, facts: events.RequestFacts) -> HttpResponse:
        functions = self.ports.functions
        arn = function_arn(integration["IntegrationUri"])
        if functions is None or arn is None:
            raise _failure(f"no function to invoke for {integration['IntegrationUri']}")
        self._check_permission(state, stage_name, match, integration, arn, request.method)
        version = integration.get("PayloadFormatVersion", "2.0")
        event = events.event_v2(request, body, facts) if version == "2.0" else events.event_v1(request, body, facts)
        invocation = asyncio.ensure_future(functions.invoke(arn, json.dumps(event).encode()))
        timeout = int(integration.get("TimeoutInMillis", 30000)) / 1000
        try:
            # Shielded: a function that outlives the integration's timeout still runs to its end, as on AWS.
            result = await asyncio.wait_for(asyncio.shield(invocation), timeout)
        except TimeoutError:
            self._running.add(invocation)
            invocation.add_done_callback(self._running.discard)
            raise ServiceError("IntegrationTimeout", f"{arn} did not answer within {timeout:g} s", 503)
        if result.status == 429:
            raise ServiceError("TooManyRequests", f"{arn} is throttled ({result.error_code})", 429)
        if result.status == 413:
            raise ServiceError("RequestEntityTooLarge", f"the event is too large for {arn}", 413)
        if result.status != 200:
            raise _failure(f"invoking {arn} failed: {result.error_code}")
        if result.function_error is not None:
            log.warning("function %s failed (%s): %s", arn, result.function_error, result.payload[:500].decode(
                errors="replace"))
            raise _failure(f"{arn} failed: {result.payload[:200].decode(errors='replace')}")
        try:
            return events.response_v2(result.payload) if version == "2.0" else events.response_v1(result.payload)
        except events.BadResponse as exc:
            log.warning("function %s returned a malformed response: %s", arn, exc)
            raise _failure(f"{arn} returned a malformed response: {exc}")

    def _check_permission(self, state: ApiState, stage_name: str, match: Match, integration: dict[str, Any],
                          arn: str, method: str) -> None:
        """As AWS checks it: the integration's role, or the function's resource policy for the route's ARN."""
        role = integration.get("CredentialsArn")
        if role:
            sessions = self.ports.role_sessions
            if sessions is not None and not sessions.assumable_by(role, PRINCIPAL):
                raise _failure(f"API Gateway cannot assume {role}: its trust policy must allow {PRINCIPAL}")
            return
        source = (f"arn:aws:execute-api:{state.region}:{self.config.account_id}:{state.api_id}/{stage_name}/"
                  f"{match.key.arn_suffix(method)}")
        functions = self.ports.functions
        if functions is not None and not functions.invoke_allowed(arn, PRINCIPAL, source):
            log.warning("API Gateway may not invoke %s for %s: no resource policy statement allows %s (aws lambda "
                        "add-permission --principal %s --source-arn ...)", arn, source, PRINCIPAL, PRINCIPAL)
            raise _failure(f"{PRINCIPAL} may not invoke {arn} for {source}: add a permission (lambda add-permission)")

