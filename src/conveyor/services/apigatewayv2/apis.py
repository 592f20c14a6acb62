"""The API operations: CreateApi (quick create included), GetApi(s), UpdateApi, DeleteApi, CORS and tags.

Quick create (CreateApi with Target) makes what the console's quick create makes: an integration with the
target, a route (RouteKey, else `$default`) to it and a `$default` stage that deploys automatically, all
marked ApiGatewayManaged. https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/apis.html
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conveyor.clock import Clock
from conveyor.services.apigatewayv2 import cors
from conveyor.services.apigatewayv2.catalog import Catalog
from conveyor.services.apigatewayv2.records import (
    API,
    API_KEY_SELECTION,
    DEFAULT_ROUTE,
    DEFAULT_STAGE,
    INTEGRATION,
    ROUTE,
    ROUTE_SELECTION,
    STAGE,
    ApiState,
    bad_request,
    new_id,
    not_found,
    page,
    public,
    unsupported,
)
from conveyor.services.apigatewayv2.routes import integration_doc, route_doc
from conveyor.services.apigatewayv2.stages import stage_doc
from conveyor.services.apigatewayv2.store import Batch
from conveyor.services.apigatewayv2.urls import api_endpoint
from conveyor.wire import RequestContext

if TYPE_CHECKING:
    from mypy_boto3_apigatewayv2.type_defs import (
        CreateApiRequestTypeDef,
        DeleteApiRequestTypeDef,
        DeleteCorsConfigurationRequestTypeDef,
        GetApiRequestTypeDef,
        GetApisRequestTypeDef,
        GetTagsRequestTypeDef,
        TagResourceRequestTypeDef,
        UntagResourceRequestTypeDef,
        UpdateApiRequestTypeDef,
    )

_SELECTIONS = (ROUTE_SELECTION, "${request.method} ${request.path}")


class ApiOperations:
    def __init__(self, catalog: Catalog, clock: Clock, account_id: str) -> None:
        self.catalog = catalog
        self.clock = clock
        self.account_id = account_id

    def describe(self, ctx: RequestContext, state: ApiState) -> dict[str, Any]:
        doc = public(state.doc)
        doc["ApiEndpoint"] = api_endpoint(ctx, state.api_id)
        return doc

    async def CreateApi(self, ctx: RequestContext, params: CreateApiRequestTypeDef) -> dict[str, Any]:
        if params["ProtocolType"] != "HTTP":
            raise unsupported("WebSocket APIs: create an HTTP API (ProtocolType HTTP)")
        _check_http_settings(params)
        if params.get("RouteKey") and not params.get("Target"):
            raise bad_request("RouteKey is part of quick create: it needs a Target.")
        now = self.clock.now()
        api_id = new_id(10)
        while api_id in self.catalog.apis:
            api_id = new_id(10)
        doc: dict[str, Any] = {
            "ApiId": api_id, "Name": params["Name"], "ProtocolType": "HTTP", "CreatedDate": now,
            "RouteSelectionExpression": ROUTE_SELECTION, "ApiKeySelectionExpression": API_KEY_SELECTION,
            "DisableExecuteApiEndpoint": params.get("DisableExecuteApiEndpoint", False),
            "IpAddressType": params.get("IpAddressType") or "ipv4", "Tags": dict(params.get("Tags") or {}),
            "_Region": ctx.region,
        }
        for key in ("Description", "Version"):
            if key in params:
                doc[key] = params[key]
        if "CorsConfiguration" in params:
            doc["CorsConfiguration"] = cors.check(dict(params["CorsConfiguration"]))
        state = ApiState(doc)
        batch = Batch()
        batch.write(api_id, API, api_id, doc)
        target = params.get("Target")
        if target:
            integration = integration_doc(new_id(7), _quick_integration(target, params.get("CredentialsArn")))
            integration["ApiGatewayManaged"] = True
            route = route_doc(new_id(7), {"RouteKey": params.get("RouteKey") or DEFAULT_ROUTE,
                                          "Target": f"integrations/{integration['IntegrationId']}"})
            route["ApiGatewayManaged"] = True
            stage = stage_doc({"StageName": DEFAULT_STAGE, "AutoDeploy": True}, now)
            stage["ApiGatewayManaged"] = True
            batch.write(api_id, INTEGRATION, integration["IntegrationId"], integration)
            batch.write(api_id, ROUTE, route["RouteId"], route)
            batch.write(api_id, STAGE, DEFAULT_STAGE, stage)
            self.catalog.redeploy(state, batch, now)
        await self.catalog.commit(batch)
        return self.describe(ctx, self.catalog.apis[api_id])

    async def GetApi(self, ctx: RequestContext, params: GetApiRequestTypeDef) -> dict[str, Any]:
        return self.describe(ctx, self.catalog.api(params["ApiId"], ctx.region))

    async def GetApis(self, ctx: RequestContext, params: GetApisRequestTypeDef) -> dict[str, Any]:
        mine = sorted((s for s in self.catalog.apis.values() if s.region == ctx.region),
                      key=lambda s: (s.doc["CreatedDate"], s.api_id))
        return page([self.describe(ctx, s) for s in mine], params)

    async def UpdateApi(self, ctx: RequestContext, params: UpdateApiRequestTypeDef) -> dict[str, Any]:
        state = self.catalog.api(params["ApiId"], ctx.region)
        _check_http_settings(params)
        doc = dict(state.doc)
        for key in ("Name", "Description", "Version", "DisableExecuteApiEndpoint", "IpAddressType"):
            if key in params:
                doc[key] = params[key]
        if "CorsConfiguration" in params:
            doc["CorsConfiguration"] = cors.check(dict(params["CorsConfiguration"]))
        batch = Batch()
        batch.write(state.api_id, API, state.api_id, doc)
        if params.get("Target") or params.get("RouteKey") or params.get("CredentialsArn"):
            self._update_quick_create(state, params, batch)
        await self.catalog.commit(batch)
        return self.describe(ctx, state)

    def _update_quick_create(self, state: ApiState, params: UpdateApiRequestTypeDef, batch: Batch) -> None:
        """UpdateApi's Target, RouteKey and CredentialsArn change what quick create made."""
        route = next((r for r in state.routes.values() if r.get("ApiGatewayManaged")), None)
        if route is None:
            raise bad_request("Target, RouteKey and CredentialsArn can be updated only on an API made by quick "
                              "create.")
        integration_id = str(route.get("Target", "")).partition("/")[2]
        integration = dict(state.integrations[integration_id])
        if params.get("Target"):
            integration.update(_quick_integration(params["Target"], integration.get("CredentialsArn")))
        if "CredentialsArn" in params:
            integration["CredentialsArn"] = params["CredentialsArn"]
        batch.write(state.api_id, INTEGRATION, integration_id, integration_doc(integration_id, integration))
        if params.get("RouteKey"):
            changed = route_doc(route["RouteId"], dict(route, RouteKey=params["RouteKey"]))
            batch.write(state.api_id, ROUTE, route["RouteId"], changed)
        self.catalog.redeploy(state, batch, self.clock.now())

    async def DeleteApi(self, ctx: RequestContext, params: DeleteApiRequestTypeDef) -> dict[str, Any]:
        state = self.catalog.api(params["ApiId"], ctx.region)
        batch = Batch()
        batch.dropped_apis.append(state.api_id)
        await self.catalog.commit(batch)
        return {}

    async def DeleteCorsConfiguration(self, ctx: RequestContext,
                                      params: DeleteCorsConfigurationRequestTypeDef) -> dict[str, Any]:
        state = self.catalog.api(params["ApiId"], ctx.region)
        doc = {k: v for k, v in state.doc.items() if k != "CorsConfiguration"}
        batch = Batch()
        batch.write(state.api_id, API, state.api_id, doc)
        await self.catalog.commit(batch)
        return {}

    # -- tags: APIs and stages are taggable, by ARN ------------------------------------------------
    def _tagged(self, arn: str, region: str) -> tuple[ApiState, str, dict[str, Any]]:
        """(API, kind, record) an ARN names: arn:aws:apigateway:REGION::/apis/ID[/stages/NAME]."""
        prefix = f"arn:aws:apigateway:{region}::/apis/"
        if not arn.startswith(prefix):
            raise not_found(f"Invalid resource ARN specified {arn}", "Tags")
        api_id, _, rest = arn[len(prefix):].partition("/")
        state = self.catalog.apis.get(api_id)
        if state is None or state.region != region:
            raise not_found(f"Invalid resource ARN specified {arn}", "Tags")
        if not rest:
            return state, API, state.doc
        kind, _, name = rest.partition("/")
        if kind == "stages" and name in state.stages:
            return state, STAGE, state.stages[name]
        raise not_found(f"Invalid resource ARN specified {arn}", "Tags")

    async def _retag(self, state: ApiState, kind: str, record: dict[str, Any], tags: dict[str, str]) -> None:
        batch = Batch()
        record_id = state.api_id if kind == API else record["StageName"]
        batch.write(state.api_id, kind, record_id, dict(record, Tags=tags))
        await self.catalog.commit(batch)

    async def TagResource(self, ctx: RequestContext, params: TagResourceRequestTypeDef) -> dict[str, Any]:
        state, kind, record = self._tagged(params["ResourceArn"], ctx.region)
        await self._retag(state, kind, record, {**record.get("Tags", {}), **(params.get("Tags") or {})})
        return {}

    async def UntagResource(self, ctx: RequestContext, params: UntagResourceRequestTypeDef) -> dict[str, Any]:
        state, kind, record = self._tagged(params["ResourceArn"], ctx.region)
        keys = set(params["TagKeys"])
        await self._retag(state, kind, record, {k: v for k, v in record.get("Tags", {}).items() if k not in keys})
        return {}

    async def GetTags(self, ctx: RequestContext, params: GetTagsRequestTypeDef) -> dict[str, Any]:
        _, _, record = self._tagged(params["ResourceArn"], ctx.region)
        return {"Tags": dict(record.get("Tags", {}))}


def _check_http_settings(params: CreateApiRequestTypeDef | UpdateApiRequestTypeDef) -> None:
    selection = params.get("RouteSelectionExpression")
    if selection is not None and selection not in _SELECTIONS:
        # https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/apis.html: for HTTP APIs it must be
        # ${request.method} ${request.path}.
        raise bad_request(f"Invalid route selection expression {selection!r}: an HTTP API's is "
                          "${request.method} ${request.path}.")
    if params.get("DisableSchemaValidation"):
        raise bad_request("DisableSchemaValidation is supported only for WebSocket APIs.")
    if params.get("ApiKeySelectionExpression") not in (None, API_KEY_SELECTION):
        raise bad_request("API key selection expressions are supported only for WebSocket APIs.")


def _quick_integration(target: str, credentials: str | None) -> dict[str, Any]:
    """The integration quick create makes of a Target: a Lambda function (AWS_PROXY, payload 2.0) or an HTTP
    URL (HTTP_PROXY, ANY)."""
    if target.startswith(("http://", "https://")):
        spec: dict[str, Any] = {"IntegrationType": "HTTP_PROXY", "IntegrationUri": target, "IntegrationMethod": "ANY",
                                "PayloadFormatVersion": "1.0"}
    else:
        spec = {"IntegrationType": "AWS_PROXY", "IntegrationUri": target, "PayloadFormatVersion": "2.0"}
    if credentials:
        spec["CredentialsArn"] = credentials
    return spec
