"""Aliases: named pointers to a version (or $LATEST), each with its own ARN and resource policy, and
optionally a second version that gets a share of the invocations (weighted routing)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from conveyor.services.lambda_.functions import Function, conflict, invalid, not_found, revision_mismatch
from conveyor.services.lambda_.paging import page
from conveyor.services.lambda_.registry import Registry
from conveyor.wire import RequestContext

if TYPE_CHECKING:
    from mypy_boto3_lambda.type_defs import (
        CreateAliasRequestTypeDef,
        DeleteAliasRequestTypeDef,
        GetAliasRequestTypeDef,
        ListAliasesRequestTypeDef,
        UpdateAliasRequestTypeDef,
    )


def aliases_of(fn: Function, version: str) -> list[str]:
    """The aliases pointing at a version (a version they point at cannot be deleted)."""
    return sorted(n for n, a in fn.aliases.items() if a["FunctionVersion"] == version)


def _alias_doc(fn: Function, name: str) -> dict[str, Any]:
    alias = fn.aliases.get(name)
    if alias is None:
        raise not_found(f"Cannot find alias arn: {fn.arn}:{name}")
    return {"AliasArn": f"{fn.arn}:{name}", "Name": name, **alias}


def _target_version(fn: Function, version: str) -> str:
    # https://docs.aws.amazon.com/lambda/latest/dg/configuration-aliases.html: an alias points to a
    # version or $LATEST, never to another alias.
    if version != "$LATEST" and version not in fn.versions:
        raise not_found(f"Function not found: {fn.arn}:{version}")
    return version


def _routing(fn: Function, version: str, routing: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """An alias's weighted routing: one more published version, with the share of invocations it gets
    (https://docs.aws.amazon.com/lambda/latest/dg/configuring-alias-routing.html: at most two versions,
    both published, neither $LATEST). None or empty weights: no routing."""
    weights = dict((routing or {}).get("AdditionalVersionWeights") or {})
    if not weights:
        return None
    if len(weights) > 1:
        raise invalid("An alias can point to at most two versions: give one additional version.")
    if version == "$LATEST":
        # https://docs.aws.amazon.com/lambda/latest/dg/configuring-alias-routing.html: "Both versions must be
        # published. The alias cannot point to $LATEST."
        raise invalid("$LATEST is not supported for an alias pointing to more than 1 version")
    extra = next(iter(weights))
    if extra == version:
        raise invalid(f"Alias routing cannot give the primary version {version} additional weight.")
    _target_version(fn, extra)
    return {"AdditionalVersionWeights": weights}


class AliasOperations:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    async def CreateAlias(self, ctx: RequestContext, params: CreateAliasRequestTypeDef) -> dict[str, Any]:
        fn, _ = self.registry.get(params["FunctionName"], ctx.region)
        name = params["Name"]
        if name in fn.aliases:
            raise conflict(f"Alias already exists: {fn.arn}:{name}")
        if name.isdigit() or name == "$LATEST":
            raise invalid(f"Alias name {name} is not valid: it must not be a version number or $LATEST.")
        version = _target_version(fn, params["FunctionVersion"])
        routing = _routing(fn, version, params.get("RoutingConfig"))
        fn.aliases[name] = {"FunctionVersion": version, "Description": params.get("Description", ""),
                            "RevisionId": str(uuid.uuid4())}
        if routing:
            fn.aliases[name]["RoutingConfig"] = routing
        await self.registry.save(fn)
        return _alias_doc(fn, name)

    async def GetAlias(self, ctx: RequestContext, params: GetAliasRequestTypeDef) -> dict[str, Any]:
        fn, _ = self.registry.get(params["FunctionName"], ctx.region)
        return _alias_doc(fn, params["Name"])

    async def UpdateAlias(self, ctx: RequestContext, params: UpdateAliasRequestTypeDef) -> dict[str, Any]:
        fn, _ = self.registry.get(params["FunctionName"], ctx.region)
        _alias_doc(fn, params["Name"])
        alias = fn.aliases[params["Name"]]
        if params.get("RevisionId") and params.get("RevisionId") != alias["RevisionId"]:
            raise revision_mismatch("GetFunction/GetAlias")
        version = _target_version(fn, params.get("FunctionVersion") or alias["FunctionVersion"])
        routing = _routing(fn, version, params["RoutingConfig"] if "RoutingConfig" in params
                           else alias.get("RoutingConfig"))
        alias["FunctionVersion"] = version  # checked before anything changed
        if routing:
            alias["RoutingConfig"] = routing
        else:
            alias.pop("RoutingConfig", None)
        if "Description" in params:
            alias["Description"] = params["Description"]
        alias["RevisionId"] = str(uuid.uuid4())
        await self.registry.save(fn)
        return _alias_doc(fn, params["Name"])

    async def ListAliases(self, ctx: RequestContext, params: ListAliasesRequestTypeDef) -> dict[str, Any]:
        fn, _ = self.registry.get(params["FunctionName"], ctx.region)
        version = params.get("FunctionVersion")
        aliases = [_alias_doc(fn, n) for n in sorted(fn.aliases)
                   if version is None or fn.aliases[n]["FunctionVersion"] == version]
        return page(aliases, params.get("Marker"), params.get("MaxItems"), "Aliases", lambda a: a["Name"])

    async def DeleteAlias(self, ctx: RequestContext, params: DeleteAliasRequestTypeDef) -> dict[str, Any]:
        fn, _ = self.registry.get(params["FunctionName"], ctx.region)
        name = params["Name"]
        if fn.aliases.pop(name, None) is not None:
            fn.policy = [s for s in fn.policy if s.get("Resource") != f"{fn.arn}:{name}"]
            fn.urls.pop(name, None)  # the alias's function URL and asynchronous settings go with it
            fn.invoke_configs.pop(name, None)
            await self.registry.save(fn)
        return {}
