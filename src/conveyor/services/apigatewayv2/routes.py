"""Routes and integrations: Create/Get/Update/Delete and their listings.

What an HTTP API's route and integration may hold, as API Gateway checks it
(https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/apis-apiid-routes.html,
https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/apis-apiid-integrations.html): a route key
no other route has, a target `integrations/ID`; an integration AWS_PROXY to a Lambda function with payload
format 1.0 or 2.0, or HTTP_PROXY to a URL (payload 1.0), timing out after 50 to 30,000 ms. What Conveyor
does not act on (authorizers, parameter mapping, VPC links, AWS service integrations) is refused.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from conveyor.clock import Clock
from conveyor.services.apigatewayv2 import route_keys
from conveyor.services.apigatewayv2.catalog import Catalog
from conveyor.services.apigatewayv2.records import (
    INTEGRATION,
    ROUTE,
    ApiState,
    bad_request,
    conflict,
    new_id,
    not_found,
    page,
    public,
    unsupported,
)
from conveyor.services.apigatewayv2.store import Batch
from conveyor.wire import RequestContext

if TYPE_CHECKING:
    from mypy_boto3_apigatewayv2.type_defs import (
        CreateIntegrationRequestTypeDef,
        CreateRouteRequestTypeDef,
        DeleteIntegrationRequestTypeDef,
        DeleteRouteRequestTypeDef,
        GetIntegrationRequestTypeDef,
        GetIntegrationsRequestTypeDef,
        GetRouteRequestTypeDef,
        GetRoutesRequestTypeDef,
        UpdateIntegrationRequestTypeDef,
        UpdateRouteRequestTypeDef,
    )

_FUNCTION_ARN = re.compile(r"^arn:aws:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+(?::[A-Za-z0-9$_-]+)?$")
# The integration URI API Gateway's console writes for a function: the Lambda Invoke API's path.
_INVOKE_URI = re.compile(r"^arn:aws:apigateway:[a-z0-9-]+:lambda:path/2015-03-31/functions/(.+)/invocations$")
_ROUTE_FIELDS = ("RouteKey", "Target", "AuthorizationType", "ApiKeyRequired", "OperationName")
_INTEGRATION_FIELDS = ("IntegrationType", "IntegrationUri", "IntegrationMethod", "PayloadFormatVersion",
                       "TimeoutInMillis", "Description", "CredentialsArn", "ConnectionType")


def function_arn(integration_uri: str) -> str | None:
    """The function an AWS_PROXY integration invokes (its ARN, or the Invoke path that wraps it)."""
    wrapped = _INVOKE_URI.match(integration_uri)
    arn = wrapped.group(1) if wrapped else integration_uri
    return arn if _FUNCTION_ARN.match(arn) else None


def route_doc(route_id: str, spec: dict[str, Any]) -> dict[str, Any]:
    """A route record from CreateRoute's (or UpdateRoute's merged) settings; refuses what is not served."""
    route_keys.parse(spec["RouteKey"])
    authorization = spec.get("AuthorizationType") or "NONE"
    if authorization != "NONE":
        raise unsupported(f"authorization type {authorization} on routes yet: routes are open (NONE)")
    for key, what in (("AuthorizerId", "authorizers"), ("AuthorizationScopes", "authorization scopes"),
                      ("RequestParameters", "route request parameters (WebSocket APIs only)"),
                      ("RequestModels", "request models (WebSocket APIs only)"),
                      ("ModelSelectionExpression", "model selection (WebSocket APIs only)"),
                      ("RouteResponseSelectionExpression", "route responses (WebSocket APIs only)")):
        if spec.get(key):
            raise unsupported(what)
    if spec.get("ApiKeyRequired"):
        raise bad_request("API keys are supported only for WebSocket APIs.")
    doc: dict[str, Any] = {"RouteId": route_id, "ApiKeyRequired": False, "AuthorizationType": "NONE"}
    for key in _ROUTE_FIELDS:
        if spec.get(key) is not None and key not in ("AuthorizationType", "ApiKeyRequired"):
            doc[key] = spec[key]
    if spec.get("ApiGatewayManaged"):
        doc["ApiGatewayManaged"] = True
    return doc


def integration_doc(integration_id: str, spec: dict[str, Any]) -> dict[str, Any]:
    """An integration record from CreateIntegration's (or UpdateIntegration's merged) settings."""
    kind = spec.get("IntegrationType")
    uri = spec.get("IntegrationUri") or ""
    if kind == "AWS_PROXY":
        if spec.get("IntegrationSubtype"):
            raise unsupported(f"AWS service integrations ({spec['IntegrationSubtype']})")
        if function_arn(uri) is None:
            raise bad_request(f"Invalid integration URI specified {uri!r}: an AWS_PROXY integration names a Lambda "
                              "function's ARN.")
        version = spec.get("PayloadFormatVersion")
        if version not in ("1.0", "2.0"):
            # https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html:
            # "you must specify a payloadFormatVersion"
            raise bad_request("PayloadFormatVersion is required for a Lambda integration: 1.0 or 2.0.")
        method = spec.get("IntegrationMethod") or "POST"
    elif kind == "HTTP_PROXY":
        if not uri.startswith(("http://", "https://")):
            raise bad_request(f"Invalid integration URI specified {uri!r}: an HTTP_PROXY integration names a URL.")
        if spec.get("ConnectionType") == "VPC_LINK" or spec.get("ConnectionId"):
            raise unsupported("VPC links")
        version = spec.get("PayloadFormatVersion") or "1.0"
        if version != "1.0":
            raise bad_request("HTTP_PROXY integrations support payload format version 1.0 only.")
        method = spec.get("IntegrationMethod")
        if not method:
            raise bad_request("IntegrationMethod is required for an HTTP_PROXY integration.")
    else:
        raise bad_request(f"Invalid integration type {kind}: an HTTP API integrates AWS_PROXY (Lambda) or "
                          "HTTP_PROXY.")
    for key, what in (("RequestParameters", "parameter mapping"), ("ResponseParameters", "parameter mapping"),
                      ("RequestTemplates", "request templates (WebSocket APIs only)"),
                      ("TemplateSelectionExpression", "template selection (WebSocket APIs only)"),
                      ("ContentHandlingStrategy", "content handling (WebSocket APIs only)"),
                      ("PassthroughBehavior", "passthrough behaviour (WebSocket APIs only)"),
                      ("TlsConfig", "TLS configuration for private integrations")):
        if spec.get(key):
            raise unsupported(what)
    timeout = spec.get("TimeoutInMillis", 30000)
    if not 50 <= timeout <= 30000:
        raise bad_request("TimeoutInMillis must be between 50 and 30000 for an HTTP API.")
    doc: dict[str, Any] = {"IntegrationId": integration_id, "ConnectionType": "INTERNET", "TimeoutInMillis": timeout,
                           "IntegrationType": kind, "IntegrationUri": uri, "IntegrationMethod": method,
                           "PayloadFormatVersion": version}
    for key in ("Description", "CredentialsArn"):
        if spec.get(key) is not None:
            doc[key] = spec[key]
    if spec.get("ApiGatewayManaged"):
        doc["ApiGatewayManaged"] = True
    return doc


class RouteOperations:
    def __init__(self, catalog: Catalog, clock: Clock) -> None:
        self.catalog = catalog
        self.clock = clock

    def _check_target(self, state: ApiState, doc: dict[str, Any]) -> None:
        target = doc.get("Target")
        if target is None:
            return
        kind, _, integration_id = str(target).partition("/")
        if kind != "integrations" or integration_id not in state.integrations:
            raise bad_request(f"Invalid target {target!r}: name an integration of this API as integrations/ID.")

    def _check_unique(self, state: ApiState, route_key: str, route_id: str) -> None:
        other = state.route_by_key(route_key)
        if other is not None and other["RouteId"] != route_id:
            raise conflict(f"Unable to create route {route_key}. The route already exists.")

    async def _save(self, state: ApiState, kind: str, record_id: str, doc: dict[str, Any] | None) -> None:
        batch = Batch()
        if doc is None:
            batch.remove(state.api_id, kind, record_id)
        else:
            batch.write(state.api_id, kind, record_id, doc)
        self.catalog.redeploy(state, batch, self.clock.now())
        await self.catalog.commit(batch)

    def _route(self, state: ApiState, route_id: str) -> dict[str, Any]:
        route = state.routes.get(route_id)
        if route is None:
            raise not_found(f"Invalid Route identifier specified {route_id}", "Route")
        return route

    def _integration(self, state: ApiState, integration_id: str) -> dict[str, Any]:
        integration = state.integrations.get(integration_id)
        if integration is None:
            raise not_found(f"Invalid Integration identifier specified {integration_id}", "Integration")
        return integration

    # -- routes ----------------------------------------------------------------------------------
    async def CreateRoute(self, ctx: RequestContext, params: CreateRouteRequestTypeDef) -> dict[str, Any]:
        state = self.catalog.api(params["ApiId"], ctx.region)
        route_id = new_id(7)
        doc = route_doc(route_id, dict(params))
        self._check_unique(state, doc["RouteKey"], route_id)
        self._check_target(state, doc)
        await self._save(state, ROUTE, route_id, doc)
        return public(doc)

    async def GetRoute(self, ctx: RequestContext, params: GetRouteRequestTypeDef) -> dict[str, Any]:
        state = self.catalog.api(params["ApiId"], ctx.region)
        return public(self._route(state, params["RouteId"]))

    async def GetRoutes(self, ctx: RequestContext, params: GetRoutesRequestTypeDef) -> dict[str, Any]:
        state = self.catalog.api(params["ApiId"], ctx.region)
        return page([public(r) for r in sorted(state.routes.values(), key=lambda r: r["RouteKey"])], params)

    async def UpdateRoute(self, ctx: RequestContext, params: UpdateRouteRequestTypeDef) -> dict[str, Any]:
        state = self.catalog.api(params["ApiId"], ctx.region)
        current = self._route(state, params["RouteId"])
        merged = {**current, **{k: v for k, v in params.items() if k not in ("ApiId", "RouteId")}}
        doc = route_doc(current["RouteId"], merged)
        self._check_unique(state, doc["RouteKey"], current["RouteId"])
        self._check_target(state, doc)
        await self._save(state, ROUTE, current["RouteId"], doc)
        return public(doc)

    async def DeleteRoute(self, ctx: RequestContext, params: DeleteRouteRequestTypeDef) -> dict[str, Any]:
        state = self.catalog.api(params["ApiId"], ctx.region)
        route = self._route(state, params["RouteId"])
        await self._save(state, ROUTE, route["RouteId"], None)
        return {}

    # -- integrations ----------------------------------------------------------------------------
    async def CreateIntegration(self, ctx: RequestContext, params: CreateIntegrationRequestTypeDef) -> dict[str, Any]:
        state = self.catalog.api(params["ApiId"], ctx.region)
        integration_id = new_id(7)
        doc = integration_doc(integration_id, dict(params))
        await self._save(state, INTEGRATION, integration_id, doc)
        return public(doc)

    async def GetIntegration(self, ctx: RequestContext, params: GetIntegrationRequestTypeDef) -> dict[str, Any]:
        state = self.catalog.api(params["ApiId"], ctx.region)
        return public(self._integration(state, params["IntegrationId"]))

    async def GetIntegrations(self, ctx: RequestContext, params: GetIntegrationsRequestTypeDef) -> dict[str, Any]:
        state = self.catalog.api(params["ApiId"], ctx.region)
        items = sorted(state.integrations.values(), key=lambda i: i["IntegrationId"])
        return page([public(i) for i in items], params)

    async def UpdateIntegration(self, ctx: RequestContext, params: UpdateIntegrationRequestTypeDef) -> dict[str, Any]:
        state = self.catalog.api(params["ApiId"], ctx.region)
        current = self._integration(state, params["IntegrationId"])
        merged = {**current, **{k: v for k, v in params.items() if k not in ("ApiId", "IntegrationId")}}
        doc = integration_doc(current["IntegrationId"], merged)
        await self._save(state, INTEGRATION, current["IntegrationId"], doc)
        return public(doc)

    async def DeleteIntegration(self, ctx: RequestContext, params: DeleteIntegrationRequestTypeDef) -> dict[str, Any]:
        state = self.catalog.api(params["ApiId"], ctx.region)
        integration = self._integration(state, params["IntegrationId"])
        target = f"integrations/{integration['IntegrationId']}"
        if any(r.get("Target") == target for r in state.routes.values()):
            raise conflict(f"Integration {integration['IntegrationId']} is the target of a route: delete the route "
                           "or change its target first.")
        await self._save(state, INTEGRATION, integration["IntegrationId"], None)
        return {}
