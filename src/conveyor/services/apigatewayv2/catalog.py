"""Every HTTP API in memory, changed only after the store committed the change.

Operations build new documents (never editing the ones in memory), gather them in a Batch, and
`commit` stores the batch and then applies it: a failed write (a full disk) leaves memory as it was.
Auto-deploying stages follow every change of routes and integrations: `redeploy` asks the batch for a
deployment of the API as it will be, pointing those stages at it, as API Gateway's automatic deployments
do (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-stages.html). The deployment is
made when the batch commits, one commit at a time, from the records committed before it: routes created
at once (CloudFormation makes a template's routes concurrently) each deploy what the others left, and the
last deployment serves them all.
"""

from __future__ import annotations

import asyncio
from typing import Any

from conveyor.services.apigatewayv2.records import (
    API,
    DEPLOYMENT,
    INTEGRATION,
    ROUTE,
    STAGE,
    ApiState,
    new_id,
    not_found,
    snapshot,
)
from conveyor.services.apigatewayv2.store import ApiStore, Batch


class Catalog:
    def __init__(self, store: ApiStore, account_id: str) -> None:
        self.store = store
        self.account_id = account_id
        self.apis: dict[str, ApiState] = {}
        self._commits = asyncio.Lock()  # one batch at a time: each automatic deployment sees the ones before
        records: list[tuple[str, str, str, dict[str, Any]]] = []
        for api_id, kind, record_id, doc in store.rows():
            if kind == API:
                self.apis[api_id] = ApiState(doc)
            else:
                records.append((api_id, kind, record_id, doc))
        for api_id, kind, record_id, doc in records:
            state = self.apis.get(api_id)
            if state is not None:
                state.records(kind)[record_id] = doc

    def api(self, api_id: str, region: str) -> ApiState:
        """The API in the caller's region, as GetApi finds it."""
        state = self.apis.get(api_id)
        if state is None or state.region != region:
            raise not_found(f"Invalid API identifier specified {self.account_id}:{api_id}", "Api")
        return state

    async def commit(self, batch: Batch) -> None:
        async with self._commits:
            for state, now, stage_name in batch.auto_deploys:
                current = self.apis.get(state.api_id, state)  # a new API's state is the batch's until now
                if stage_name is None:
                    self._redeploy_now(current, batch, now)
                elif _after(current, batch, ROUTE):
                    self.deploy(current, batch, now, stage_name=stage_name, auto=True)
            await self.store.commit(batch)
            self._apply(batch)

    def _apply(self, batch: Batch) -> None:
        for api_id in batch.dropped_apis:
            self.apis.pop(api_id, None)
        for api_id, kind, record_id in batch.removed:
            state = self.apis.get(api_id)
            if state is not None:
                state.records(kind).pop(record_id, None)
        for api_id, kind, record_id, doc in batch.written:
            if kind == API:
                existing = self.apis.get(api_id)
                if existing is None:
                    self.apis[api_id] = ApiState(doc)
                else:
                    existing.doc = doc
            else:
                self.apis[api_id].records(kind)[record_id] = doc

    def redeploy(self, state: ApiState, batch: Batch, now: float, stage_name: str | None = None) -> None:
        """When `batch` commits, deploy the API as it then is to every stage with AutoDeploy on (or to
        `stage_name` alone, if the API has routes by then)."""
        batch.auto_deploys.append((state, now, stage_name))

    def _redeploy_now(self, state: ApiState, batch: Batch, now: float) -> None:
        routes = _after(state, batch, ROUTE)
        integrations = _after(state, batch, INTEGRATION)
        stages = _after(state, batch, STAGE)
        for name, stage in stages.items():
            if not stage.get("AutoDeploy"):
                continue
            self.deploy(state, batch, now, routes, integrations, stage_name=name, stage=stage, auto=True)

    def deploy(self, state: ApiState, batch: Batch, now: float, routes: dict[str, dict[str, Any]] | None = None,
               integrations: dict[str, dict[str, Any]] | None = None, *, stage_name: str | None = None,
               stage: dict[str, Any] | None = None, auto: bool = False, description: str | None = None,
               ) -> dict[str, Any]:
        """A new deployment of the API (as `batch` leaves it), made current on `stage_name` if given."""
        routes = routes if routes is not None else _after(state, batch, ROUTE)
        integrations = integrations if integrations is not None else _after(state, batch, INTEGRATION)
        deployment_id = new_id(6)
        deployment: dict[str, Any] = {
            "DeploymentId": deployment_id, "DeploymentStatus": "DEPLOYED", "CreatedDate": now, "AutoDeployed": auto,
            "_Snapshot": snapshot(routes, integrations),
        }
        if description is not None:
            deployment["Description"] = description
        batch.write(state.api_id, DEPLOYMENT, deployment_id, deployment)
        if stage_name is not None:
            current = stage if stage is not None else _after(state, batch, STAGE)[stage_name]
            updated = dict(current, DeploymentId=deployment_id, LastUpdatedDate=now,
                           LastDeploymentStatusMessage=f"Successfully deployed stage with deployment ID "
                                                       f"'{deployment_id}'")
            batch.write(state.api_id, STAGE, stage_name, updated)
        return deployment


def _after(state: ApiState, batch: Batch, kind: str) -> dict[str, dict[str, Any]]:
    """The records of one kind as they will be once `batch` is committed."""
    records = dict(state.records(kind))
    for api_id, removed_kind, record_id in batch.removed:
        if api_id == state.api_id and removed_kind == kind:
            records.pop(record_id, None)
    for api_id, written_kind, record_id, doc in batch.written:
        if api_id == state.api_id and written_kind == kind:
            records[record_id] = doc
    return records


__all__ = ["API", "DEPLOYMENT", "INTEGRATION", "ROUTE", "STAGE", "Catalog"]
