"""Aliases: named pointers to a version (or $LATEST), each with its own ARN and resource policy."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from conveyor.services.lambda_.functions import Function, conflict, invalid, not_found
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from conveyor.services.lambda_.api import LambdaService


class AliasesMixin:
    def _alias_doc(self, fn: Function, name: str) -> dict[str, Any]:
        alias = fn.aliases.get(name)
        if alias is None:
            raise not_found(f"Cannot find alias arn: {fn.arn}:{name}")
        return {"AliasArn": f"{fn.arn}:{name}", "Name": name, **alias}

    def _target_version(self, fn: Function, version: str) -> str:
        # https://docs.aws.amazon.com/lambda/latest/dg/configuration-aliases.html: an alias points to a
        # version or $LATEST, never to another alias.
        if version != "$LATEST" and version not in fn.versions:
            raise not_found(f"Function not found: {fn.arn}:{version}")
        return version

    async def CreateAlias(self: LambdaService, ctx: RequestContext,  # type: ignore[misc]
                          params: dict[str, Any]) -> dict[str, Any]:
        fn, _ = self.function(params["FunctionName"], ctx.region)
        name = params["Name"]
        if name in fn.aliases:
            raise conflict(f"Alias already exists: {fn.arn}:{name}")
        if name.isdigit() or name == "$LATEST":
            raise invalid(f"Alias name {name} is not valid: it must not be a version number or $LATEST.")
        if params.get("RoutingConfig"):
            raise invalid("Conveyor does not support weighted alias routing.")
        version = self._target_version(fn, params["FunctionVersion"])
        fn.aliases[name] = {"FunctionVersion": version, "Description": params.get("Description", ""),
                            "RevisionId": str(uuid.uuid4())}
        await self.registry.save(fn)
        return self._alias_doc(fn, name)

    async def GetAlias(self: LambdaService, ctx: RequestContext,  # type: ignore[misc]
                       params: dict[str, Any]) -> dict[str, Any]:
        fn, _ = self.function(params["FunctionName"], ctx.region)
        return self._alias_doc(fn, params["Name"])

    async def UpdateAlias(self: LambdaService, ctx: RequestContext,  # type: ignore[misc]
                          params: dict[str, Any]) -> dict[str, Any]:
        fn, _ = self.function(params["FunctionName"], ctx.region)
        self._alias_doc(fn, params["Name"])
        alias = fn.aliases[params["Name"]]
        if params.get("RevisionId") and params["RevisionId"] != alias["RevisionId"]:
            raise ServiceError("PreconditionFailedException", "The Revision Id provided does not match the latest "
                               "Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
                               412)
        if params.get("RoutingConfig"):
            raise invalid("Conveyor does not support weighted alias routing.")
        if params.get("FunctionVersion"):
            alias["FunctionVersion"] = self._target_version(fn, params["FunctionVersion"])
        if "Description" in params:
            alias["Description"] = params["Description"]
        alias["RevisionId"] = str(uuid.uuid4())
        await self.registry.save(fn)
        return self._alias_doc(fn, params["Name"])

    async def ListAliases(self: LambdaService, ctx: RequestContext,  # type: ignore[misc]
                          params: dict[str, Any]) -> dict[str, Any]:
        from conveyor.services.lambda_.api import page

        fn, _ = self.function(params["FunctionName"], ctx.region)
        version = params.get("FunctionVersion")
        aliases = [self._alias_doc(fn, n) for n in sorted(fn.aliases)
                   if version is None or fn.aliases[n]["FunctionVersion"] == version]
        return page(aliases, params, "Aliases", lambda a: a["Name"])

    async def DeleteAlias(self: LambdaService, ctx: RequestContext,  # type: ignore[misc]
                          params: dict[str, Any]) -> dict[str, Any]:
        fn, _ = self.function(params["FunctionName"], ctx.region)
        name = params["Name"]
        if fn.aliases.pop(name, None) is not None:
            fn.policy = [s for s in fn.policy if s.get("Resource") != f"{fn.arn}:{name}"]
            await self.registry.save(fn)
        return {}

    def aliases_of(self, fn: Function, version: str) -> list[str]:
        return sorted(n for n, a in fn.aliases.items() if a["FunctionVersion"] == version)
