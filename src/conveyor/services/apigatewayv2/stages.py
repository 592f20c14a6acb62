"""Stages and deployments: Create/Get/Update/Delete and their listings.

A stage serves one deployment, a frozen copy of the API's routes and integrations. A stage with AutoDeploy
gets a new deployment with every change (and on creation, once the API has a route); any other stage
changes only when CreateDeployment names it or UpdateStage points it at another deployment.
https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-stages.html

Route settings: throttling (ThrottlingRateLimit, ThrottlingBurstLimit) is enforced by the data plane;
detailed metrics, access logs and the WebSocket-only settings are refused rather than ignored.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from conveyor.clock import Clock
from conveyor.services.apigatewayv2.catalog import Catalog
from conveyor.services.apigatewayv2.records import (
    DEFAULT_STAGE,
    DEPLOYMENT,
    STAGE,
    ApiState,
    bad_request,
    conflict,
    not_found,
    page,
    public,
    unsupported,
)
from conveyor.services.apigatewayv2.store import Batch
from conveyor.wire import RequestContext

if TYPE_CHECKING:
    from mypy_boto3_apigatewayv2.type_defs import (
        CreateDeploymentRequestTypeDef,
        CreateStageRequestTypeDef,
        DeleteAccessLogSettingsRequestTypeDef,
        DeleteDeploymentRequestTypeDef,
        DeleteRouteSettingsRequestTypeDef,
        DeleteStageRequestTypeDef,
        GetDeploymentRequestTypeDef,
        GetDeploymentsRequestTypeDef,
        GetStageRequestTypeDef,
        GetStagesRequestTypeDef,
        UpdateDeploymentRequestTypeDef,
        UpdateStageRequestTypeDef,
    )

_STAGE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_NO_ROUTES = "At least one route is required before deploying the Api."


def _route_settings(settings: dict[str, Any], where: str) -> dict[str, Any]:
    if settings.get("DetailedMetricsEnabled"):
        raise unsupported(f"detailed route metrics ({where}): Conveyor does not publish API Gateway metrics yet")
    if settings.get("LoggingLevel") not in (None, "OFF") or settings.get("DataTraceEnabled"):
        raise bad_request(f"Logging settings ({where}) are supported only for WebSocket APIs.")
    out: dict[str, Any] = {"DetailedMetricsEnabled": False}
    for key in ("ThrottlingBurstLimit", "ThrottlingRateLimit"):
        if settings.get(key) is not None:
            if settings[key] < 0:
                raise bad_request(f"{key} ({where}) must not be negative.")
            out[key] = settings[key]
    return out


def stage_doc(spec: dict[str, Any], now: float, current: dict[str, Any] | None = None) -> dict[str, Any]:
    """A stage record from CreateStage's settings, or UpdateStage's over the `current` record."""
    name = spec["StageName"]
    if name != DEFAULT_STAGE and not _STAGE_NAME.match(name):
        raise bad_request(f"Invalid stage name {name!r}: use $default, or letters, digits, '-' and '_'.")
    if spec.get("AccessLogSettings"):
        raise unsupported("access logs (CloudWatch Logs destinations) yet")
    if spec.get("ClientCertificateId"):
        raise bad_request("Client certificates are supported only for REST APIs.")
    doc: dict[str, Any] = dict(current) if current else {
        "StageName": name, "CreatedDate": now, "AutoDeploy": False, "RouteSettings": {}, "StageVariables": {},
        "Tags": {}, "DefaultRouteSettings": {"DetailedMetricsEnabled": False}}
    doc["LastUpdatedDate"] = now
    if "AutoDeploy" in spec:
        doc["AutoDeploy"] = bool(spec["AutoDeploy"])
    if "Description" in spec:
        doc["Description"] = spec["Description"]
    if "DeploymentId" in spec:
        doc["DeploymentId"] = spec["DeploymentId"]
    if "StageVariables" in spec:
        doc["StageVariables"] = dict(spec["StageVariables"] or {})
    if "Tags" in spec and current is None:
        doc["Tags"] = dict(spec["Tags"] or {})
    if "DefaultRouteSettings" in spec:
        doc["DefaultRouteSettings"] = _route_settings(dict(spec["DefaultRouteSettings"]), "defaultRouteSettings")
    if "RouteSettings" in spec:
        doc["RouteSettings"] = {key: _route_settings(dict(value), f"routeSettings {key}")
                                for key, value in (spec["RouteSettings"] or {}).items()}
    return doc


class StageOperations:
    def __init__(self, catalog: Catalog, clock: Clock) -> None:
        self.catalog = catalog
        self.clock = clock

    def _stage(self, state: ApiState, name: str) -> dict[str, Any]:
        stage = state.stages.get(name)
        if stage is None:
            raise not_found(f"Invalid stage identifier specified {name}", "Stage")
        return stage

    def _deployment(self, state: ApiState, deployment_id: str) -> dict[str, Any]:
        deployment = state.deployments.get(deployment_id)
        if deployment is None:
            raise not_found(f"Invalid Deployment identifier specified {deployment_id}", "Deployment")
        return deployment

    async def _save_stage(self, state: ApiState, doc: dict[str, Any], deploy: bool) -> dict[str, Any]:
        batch = Batch()
        if doc.get("DeploymentId") is not None:
            self._deployment(state, doc["DeploymentId"])
        batch.write(state.api_id, STAGE, doc["StageName"], doc)
        if deploy:
            self.catalog.redeploy(state, batch, self.clock.now(), stage_name=doc["StageName"])
        await self.catalog.commit(batch)
        return public(state.stages[doc["StageName"]])

    # -- stages ----------------------------------------------------------------------------------
    async def CreateStage(self, ctx: RequestContext, params: CreateStageRequestTypeDef) -> dict[str, Any]:
        state = self.catalog.api(params["ApiId"], ctx.region)
        if params["StageName"] in state.stages:
            raise conflict(f"Stage {params['StageName']} already exists")
        doc = stage_doc(dict(params), self.clock.now())
        return await self._save_stage(state, doc, deploy=bool(doc["AutoDeploy"]))

    async def GetStage(self, ctx: RequestContext, params: GetStageRequestTypeDef) -> dict[str, Any]:
        state = self.catalog.api(params["ApiId"], ctx.region)
        return public(self._stage(state, params["StageName"]))

    async def GetStages(self, ctx: RequestContext, params: GetStagesRequestTypeDef) -> dict[str, Any]:
        state = self.catalog.api(params["ApiId"], ctx.region)
        return page([public(s) for s in sorted(state.stages.values(), key=lambda s: s["StageName"])], params)

    async def UpdateStage(self, ctx: RequestContext, params: UpdateStageRequestTypeDef) -> dict[str, Any]:
        state = self.catalog.api(params["ApiId"], ctx.region)
        current = self._stage(state, params["StageName"])
        doc = stage_doc(dict(params), self.clock.now(), current)
        turned_on = bool(doc["AutoDeploy"]) and not current.get("AutoDeploy")
        return await self._save_stage(state, doc, deploy=turned_on)

    async def DeleteStage(self, ctx: RequestContext, params: DeleteStageRequestTypeDef) -> dict[str, Any]:
        state = self.catalog.api(params["ApiId"], ctx.region)
        self._stage(state, params["StageName"])
        batch = Batch()
        batch.remove(state.api_id, STAGE, params["StageName"])
        await self.catalog.commit(batch)
        return {}

    async def DeleteRouteSettings(self, ctx: RequestContext, params: DeleteRouteSettingsRequestTypeDef,
                                  ) -> dict[str, Any]:
        state = self.catalog.api(params["ApiId"], ctx.region)
        stage = self._stage(state, params["StageName"])
        settings = dict(stage.get("RouteSettings") or {})
        if settings.pop(params["RouteKey"], None) is None:
            raise not_found(f"Invalid route settings identifier specified {params['RouteKey']}", "RouteSettings")
        batch = Batch()
        batch.write(state.api_id, STAGE, stage["StageName"], dict(stage, RouteSettings=settings))
        await self.catalog.commit(batch)
        return {}

    async def DeleteAccessLogSettings(self, ctx: RequestContext, params: DeleteAccessLogSettingsRequestTypeDef,
                                      ) -> dict[str, Any]:
        state = self.catalog.api(params["ApiId"], ctx.region)
        self._stage(state, params["StageName"])  # a stage has none: CreateStage refuses them
        return {}

    # -- deployments -----------------------------------------------------------------------------
    async def CreateDeployment(self, ctx: RequestContext, params: CreateDeploymentRequestTypeDef) -> dict[str, Any]:
        state = self.catalog.api(params["ApiId"], ctx.region)
        if not state.routes:
            raise bad_request(_NO_ROUTES)
        name = params.get("StageName")
        if name is not None:
            stage = self._stage(state, name)
            if stage.get("AutoDeploy"):
                raise bad_request(f"Stage {name} deploys automatically (AutoDeploy): it cannot be deployed by "
                                  "CreateDeployment.")
        batch = Batch()
        deployment = self.catalog.deploy(state, batch, self.clock.now(), stage_name=name,
                                         description=params.get("Description"))
        await self.catalog.commit(batch)
        return public(deployment)

    async def GetDeployment(self, ctx: RequestContext, params: GetDeploymentRequestTypeDef) -> dict[str, Any]:
        state = self.catalog.api(params["ApiId"], ctx.region)
        return public(self._deployment(state, params["DeploymentId"]))

    async def GetDeployments(self, ctx: RequestContext, params: GetDeploymentsRequestTypeDef) -> dict[str, Any]:
        state = self.catalog.api(params["ApiId"], ctx.region)
        items = sorted(state.deployments.values(), key=lambda d: (d["CreatedDate"], d["DeploymentId"]))
        return page([public(d) for d in items], params)

    async def UpdateDeployment(self, ctx: RequestContext, params: UpdateDeploymentRequestTypeDef) -> dict[str, Any]:
        state = self.catalog.api(params["ApiId"], ctx.region)
        current = self._deployment(state, params["DeploymentId"])
        doc = dict(current)
        if "Description" in params:
            doc["Description"] = params["Description"]
        batch = Batch()
        batch.write(state.api_id, DEPLOYMENT, current["DeploymentId"], doc)
        await self.catalog.commit(batch)
        return public(doc)

    async def DeleteDeployment(self, ctx: RequestContext, params: DeleteDeploymentRequestTypeDef) -> dict[str, Any]:
        state = self.catalog.api(params["ApiId"], ctx.region)
        deployment = self._deployment(state, params["DeploymentId"])
        users = sorted(s["StageName"] for s in state.stages.values()
                       if s.get("DeploymentId") == deployment["DeploymentId"])
        if users:
            raise bad_request(f"Deployment {deployment['DeploymentId']} is in use by stage {users[0]}: deploy "
                              "another to it, or delete the stage, first.")
        batch = Batch()
        batch.remove(state.api_id, DEPLOYMENT, deployment["DeploymentId"])
        await self.catalog.commit(batch)
        return {}
