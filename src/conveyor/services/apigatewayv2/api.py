"""API Gateway v2 (rest-json, signing name `apigateway`): HTTP APIs, their routes, integrations, stages and
deployments, and the data plane that serves their invoke URLs on the same port.

The operations live in three objects (apis, routes, stages) over one catalog and its store; this class
wires them, owns the lifecycle and offers the data plane to the gateway (conveyor.services.base.DataPlane).
WebSocket APIs, authorizers, custom domain names, VPC links, models and portals are not served: their
operations answer NotImplemented, and settings that need them are refused.
"""

from __future__ import annotations

import functools
from typing import Any

from botocore.model import OperationModel

from conveyor.authz import Need
from conveyor.protocol.base import Codec
from conveyor.services.apigatewayv2 import iam, records
from conveyor.services.apigatewayv2.apis import ApiOperations
from conveyor.services.apigatewayv2.catalog import Catalog
from conveyor.services.apigatewayv2.codec import ApiGatewayCodec, ApiGatewayValidationCodes
from conveyor.services.apigatewayv2.data_plane import ExecuteApi
from conveyor.services.apigatewayv2.routes import RouteOperations
from conveyor.services.apigatewayv2.stages import StageOperations
from conveyor.services.apigatewayv2.store import ApiStore
from conveyor.services.base import Environment, Handler, Service
from conveyor.wire import RequestContext


class ApiGatewayService(Service):
    name = "apigatewayv2"
    other_accounts_own_nothing = True  # another account's caller: in its own account, empty here
    # An API id is one of its own account's, which has none: NotFoundException as for any unknown id.
    other_account_names = (("ApiId", lambda ctx, api: records.not_found(
        f"Invalid API identifier specified {ctx.principal.account_id if ctx.principal else ctx.account_id}:{api}",
        "Api")),)
    signing_name = "apigateway"
    validation_codes = ApiGatewayValidationCodes()

    @functools.cached_property
    def codecs(self) -> dict[str, Codec]:
        return {"rest-json": ApiGatewayCodec(self.model)}

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        self.execute_api = ExecuteApi(self.config, self.ports)
        self.data_plane = self.execute_api
        self.store: ApiStore | None = None
        self.catalog: Catalog | None = None
        self._operations: list[object] = []

    def iam_requests(self, ctx: RequestContext, operation: OperationModel, params: dict[str, Any]) -> list[Need]:
        return iam.needs(ctx)

    async def start(self) -> None:
        self.store = ApiStore(self.config.service_dir("apigateway") / "apigateway.db", self.env.disk)
        self.catalog = Catalog(self.store, self.config.account_id)
        self.execute_api.catalog = self.catalog
        self._operations = [ApiOperations(self.catalog, self.clock, self.config.account_id),
                            RouteOperations(self.catalog, self.clock), StageOperations(self.catalog, self.clock)]

    async def stop(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None

    async def reset(self) -> None:
        if self.store is not None and self.catalog is not None:
            await self.store.wipe()
            self.catalog.apis.clear()
        self.execute_api.forget()

    def handler(self, operation: str) -> Handler | None:
        if not operation[:1].isupper():
            return None
        for operations in self._operations:
            found = getattr(operations, operation, None)
            if callable(found):
                handler: Handler = found
                return handler
        return None

    def health(self) -> dict[str, Any]:
        return {"status": "running" if self.catalog is not None else "stopped",
                "apis": len(self.catalog.apis) if self.catalog is not None else 0}
