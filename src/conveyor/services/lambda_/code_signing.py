"""Code signing configurations: stored, validated, attached to functions, and honoured as far as Conveyor can.

https://docs.aws.amazon.com/lambda/latest/dg/configuration-codesigning.html: a configuration names the
signing profiles allowed to sign a function's packages and what happens to an unsigned or badly signed
one (UntrustedArtifactOnDeployment: Warn deploys it and logs, Enforce blocks it). Packages are signed
with AWS Signer, which Conveyor does not serve, so no package here carries a signature: under a Warn
policy deployments go ahead (as on AWS, with a warning), under Enforce they are refused as AWS refuses an
unverified package (CodeVerificationFailedException). A configuration a function uses cannot be deleted.
"""

from __future__ import annotations

import json
import logging
import secrets
import string
from typing import TYPE_CHECKING, Any

from conveyor.services.lambda_.functions import Function, conflict, not_found
from conveyor.services.lambda_.paging import page
from conveyor.services.lambda_.registry import Registry
from conveyor.services.lambda_.store import LambdaStore
from conveyor.services.lambda_.tag_rules import check_tags
from conveyor.services.lambda_.url_configs import now_iso
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from mypy_boto3_lambda.type_defs import (
        CreateCodeSigningConfigRequestTypeDef,
        DeleteCodeSigningConfigRequestTypeDef,
        DeleteFunctionCodeSigningConfigRequestTypeDef,
        GetCodeSigningConfigRequestTypeDef,
        GetFunctionCodeSigningConfigRequestTypeDef,
        ListCodeSigningConfigsRequestTypeDef,
        ListFunctionsByCodeSigningConfigRequestTypeDef,
        PutFunctionCodeSigningConfigRequestTypeDef,
        UpdateCodeSigningConfigRequestTypeDef,
    )

log = logging.getLogger(__name__)
Out = dict[str, Any]
_ID_ALPHABET = string.ascii_lowercase + string.digits


def _missing(arn: str) -> ServiceError:
    return ServiceError("CodeSigningConfigNotFoundException",
                        f"The code signing configuration cannot be found. Check that the provided configuration is "
                        f"not deleted: {arn}.", 404)


class CodeSigningConfigs:
    """The account's configurations, by ARN, mirrored in the store; tags kept in the document."""

    def __init__(self, store: LambdaStore, registry: Registry) -> None:
        self.store = store
        self.registry = registry
        self.configs: dict[str, Out] = {}

    def load(self) -> None:
        for doc in self.store.code_signing_docs():
            config = json.loads(doc)
            self.configs[config["CodeSigningConfigArn"]] = config

    def clear(self) -> None:
        self.configs.clear()

    def get(self, arn: str) -> Out:
        config = self.configs.get(arn)
        if config is None:
            raise not_found("The resource you requested does not exist.")
        return config

    async def put(self, config: Out) -> None:
        await self.store.put_code_signing(config["CodeSigningConfigArn"], json.dumps(config))
        self.configs[config["CodeSigningConfigArn"]] = config

    def attach_on_create(self, arn: str | None) -> str | None:
        """CreateFunction's CodeSigningConfigArn: it must exist."""
        if arn and arn not in self.configs:
            raise _missing(arn)
        return arn or None

    def check_deployment(self, fn_name: str, arn: str | None) -> None:
        """A package is about to be deployed to a function using `arn`: unsigned, as every package here is."""
        if arn is None:
            return
        config = self.configs.get(arn)
        if config is None:
            return
        if config["CodeSigningPolicies"]["UntrustedArtifactOnDeployment"] == "Enforce":
            raise ServiceError("CodeVerificationFailedException",
                               f"Lambda cannot deploy the function {fn_name}: its code signing configuration {arn} "
                               "enforces signatures, and the package is not signed (Conveyor does not serve AWS "
                               "Signer, so no package can be).", 400)
        log.warning("function %s: deploying an unsigned package (code signing configuration %s warns only)",
                    fn_name, arn)


class CodeSigningOperations:
    def __init__(self, configs: CodeSigningConfigs) -> None:
        self.configs = configs
        self.registry = configs.registry

    @staticmethod
    def _public(config: Out) -> Out:
        return {k: v for k, v in config.items() if not k.startswith("_")}

    async def CreateCodeSigningConfig(self, ctx: RequestContext, params: CreateCodeSigningConfigRequestTypeDef) -> Out:
        ident = "csc-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(17))
        config: Out = {
            "CodeSigningConfigId": ident,
            "CodeSigningConfigArn": f"arn:aws:lambda:{ctx.region}:{self.registry.account}:code-signing-config:{ident}",
            "Description": params.get("Description", ""),
            "AllowedPublishers": dict(params["AllowedPublishers"]),
            "CodeSigningPolicies": {"UntrustedArtifactOnDeployment": (params.get("CodeSigningPolicies") or {}).get(
                "UntrustedArtifactOnDeployment", "Warn")},
            "LastModified": now_iso(ctx.clock.now()),
            "_Tags": check_tags(dict(params.get("Tags") or {})),
        }
        await self.configs.put(config)
        return {"CodeSigningConfig": self._public(config)}

    async def GetCodeSigningConfig(self, ctx: RequestContext, params: GetCodeSigningConfigRequestTypeDef) -> Out:
        return {"CodeSigningConfig": self._public(self.configs.get(params["CodeSigningConfigArn"]))}

    async def UpdateCodeSigningConfig(self, ctx: RequestContext, params: UpdateCodeSigningConfigRequestTypeDef) -> Out:
        config = dict(self.configs.get(params["CodeSigningConfigArn"]))
        if "Description" in params:
            config["Description"] = params["Description"]
        if "AllowedPublishers" in params:
            config["AllowedPublishers"] = dict(params["AllowedPublishers"])
        if "CodeSigningPolicies" in params:
            config["CodeSigningPolicies"] = {"UntrustedArtifactOnDeployment": params["CodeSigningPolicies"].get(
                "UntrustedArtifactOnDeployment", "Warn")}
        config["LastModified"] = now_iso(ctx.clock.now())
        await self.configs.put(config)
        return {"CodeSigningConfig": self._public(config)}

    async def DeleteCodeSigningConfig(self, ctx: RequestContext, params: DeleteCodeSigningConfigRequestTypeDef) -> Out:
        arn = params["CodeSigningConfigArn"]
        self.configs.get(arn)
        if self._users(arn):
            raise conflict(f"The code signing configuration {arn} is used by one or more functions: detach it "
                           "from them first (DeleteFunctionCodeSigningConfig).")
        await self.configs.store.delete_code_signing(arn)
        del self.configs.configs[arn]
        return {}

    async def ListCodeSigningConfigs(self, ctx: RequestContext, params: ListCodeSigningConfigsRequestTypeDef) -> Out:
        found = [self._public(c) for arn, c in sorted(self.configs.configs.items()) if arn.split(":")[3] == ctx.region]
        return page(found, params.get("Marker"), params.get("MaxItems"), "CodeSigningConfigs",
                    lambda c: c["CodeSigningConfigArn"])

    def _users(self, arn: str) -> list[Function]:
        return [f for _, f in sorted(self.registry.functions.items()) if f.code_signing == arn]

    async def ListFunctionsByCodeSigningConfig(self, ctx: RequestContext,
                                               params: ListFunctionsByCodeSigningConfigRequestTypeDef) -> Out:
        arn = params["CodeSigningConfigArn"]
        self.configs.get(arn)
        arns = [{"arn": f.arn} for f in self._users(arn)]
        listed = page(arns, params.get("Marker"), params.get("MaxItems"), "FunctionArns", lambda a: a["arn"])
        listed["FunctionArns"] = [a["arn"] for a in listed["FunctionArns"]]
        return listed

    # -- a function's configuration --------------------------------------------------------------------
    async def PutFunctionCodeSigningConfig(self, ctx: RequestContext,
                                           params: PutFunctionCodeSigningConfigRequestTypeDef) -> Out:
        fn, _ = self.registry.get(params["FunctionName"], ctx.region)
        arn = params["CodeSigningConfigArn"]
        if arn not in self.configs.configs:
            raise _missing(arn)
        fn.code_signing = arn
        await self.registry.save(fn)
        return {"CodeSigningConfigArn": arn, "FunctionName": fn.name}

    async def GetFunctionCodeSigningConfig(self, ctx: RequestContext,
                                           params: GetFunctionCodeSigningConfigRequestTypeDef) -> Out:
        fn, _ = self.registry.get(params["FunctionName"], ctx.region)
        return {"CodeSigningConfigArn": fn.code_signing or "", "FunctionName": fn.name}

    async def DeleteFunctionCodeSigningConfig(self, ctx: RequestContext,
                                              params: DeleteFunctionCodeSigningConfigRequestTypeDef) -> Out:
        fn, _ = self.registry.get(params["FunctionName"], ctx.region)
        if fn.code_signing is not None:
            fn.code_signing = None
            await self.registry.save(fn)
        return {}
