"""Lambda's operations on functions themselves: create, read, list, update, publish versions, delete,
reserved concurrency and the account's settings."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from conveyor.clock import Clock
from conveyor.ports import Ports
from conveyor.services.lambda_ import code_url
from conveyor.services.lambda_.aliases import aliases_of
from conveyor.services.lambda_.code_signing import CodeSigningConfigs
from conveyor.services.lambda_.esm import Mappings
from conveyor.services.lambda_.functions import (
    Function,
    check_config,
    check_runtime,
    conflict,
    invalid,
    logging_config,
    not_found,
    parse_name,
    public,
    revision_mismatch,
)
from conveyor.services.lambda_.invoke import CANNOT_ASSUME, LAMBDA_PRINCIPAL, Invoker
from conveyor.services.lambda_.layers import Layers
from conveyor.services.lambda_.paging import page
from conveyor.services.lambda_.registry import Registry
from conveyor.services.lambda_.stream_esm import StreamMappings
from conveyor.services.lambda_.tag_rules import check_tags
from conveyor.services.lambda_.tagging import within_tag_limit
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from mypy_boto3_lambda.type_defs import (
        CreateFunctionRequestTypeDef,
        DeleteFunctionConcurrencyRequestTypeDef,
        DeleteFunctionRequestTypeDef,
        GetFunctionConcurrencyRequestTypeDef,
        GetFunctionConfigurationRequestTypeDef,
        GetFunctionRequestTypeDef,
        ListFunctionsRequestTypeDef,
        ListVersionsByFunctionRequestTypeDef,
        PublishVersionRequestTypeDef,
        PutFunctionConcurrencyRequestTypeDef,
        UpdateFunctionCodeRequestTypeDef,
        UpdateFunctionConfigurationRequestTypeDef,
    )

_CONFIG_KEYS = ("Role", "Handler", "Description", "Timeout", "MemorySize", "Environment", "Runtime",
                "DeadLetterConfig", "TracingConfig", "VpcConfig", "EphemeralStorage", "LoggingConfig")
# https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html: 1,000 concurrent executions
# per account, of which 100 always stay unreserved.
ACCOUNT_CONCURRENCY = 1000
UNRESERVED_MINIMUM = 100
Out = dict[str, Any]


def shown(fn: Function, config: dict[str, Any], qualifier: str | None) -> Out:
    """A configuration as read through a qualifier: its FunctionArn names the qualifier it was read by, even
    $LATEST: GetFunction with Qualifier $LATEST, and the $LATEST entry of ListVersionsByFunction and of
    ListFunctions with FunctionVersion ALL, answer `...:function:NAME:$LATEST` (the qualified ARN of
    https://docs.aws.amazon.com/lambda/latest/dg/configuration-versions.html#versioning-versions-using)."""
    out = public(config)
    if qualifier == "$LATEST":  # a version's or an alias's shows the version's own ARN
        out["FunctionArn"] = f"{fn.arn}:$LATEST"
    return out


# https://docs.aws.amazon.com/lambda/latest/api/API_ListFunctions.html: "The ListFunctions operation returns a
# subset of the FunctionConfiguration fields. To get the additional fields (State, StateReasonCode, StateReason,
# LastUpdateStatus, LastUpdateStatusReason, LastUpdateStatusReasonCode, RuntimeVersionConfig) for a function
# or version, use GetFunction." ListVersionsByFunction answers the same subset (a recorded answer of it:
# hashicorp/terraform-provider-aws#42181 shows "State":null and "LastUpdateStatus":null for every version).
_GET_FUNCTION_ONLY = ("State", "StateReasonCode", "StateReason", "LastUpdateStatus", "LastUpdateStatusReason",
                      "LastUpdateStatusReasonCode", "RuntimeVersionConfig")


def listed(config: Out) -> Out:
    """A configuration as ListFunctions and ListVersionsByFunction show it: without the state fields."""
    return {k: v for k, v in config.items() if k not in _GET_FUNCTION_ONLY}


class FunctionOperations:
    def __init__(self, registry: Registry, invoker: Invoker, mappings: Mappings, ports: Ports, clock: Clock,
                 credential: tuple[str, str], stream_mappings: StreamMappings | None = None,
                 layers: Layers | None = None, code_signing: CodeSigningConfigs | None = None) -> None:
        self.registry = registry
        self.layers = layers
        self.code_signing = code_signing
        self.invoker = invoker
        self.mappings = mappings
        self.stream_mappings = stream_mappings
        self.ports = ports
        self.clock = clock
        self.credential = credential  # (access key, secret key) that presign Code.Location

    # -- what a function is made from ------------------------------------------------------------------
    def _check_role(self, role: str, account: str) -> None:
        """The execution role must be the function's account's, exist and trust lambda.amazonaws.com, or
        Lambda refuses the function. Another account's role is refused before it is looked at, 403
        AccessDeniedException "Cross-account pass role is not allowed." (as AWS answers CreateFunction in
        users' reports, e.g. aws/aws-toolkit-azure-devops#546): a role can only be passed within its account.
        https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html"""
        if role.split(":")[4:5] != [account]:  # the model's pattern has made it an IAM role ARN
            raise ServiceError("AccessDeniedException", "Cross-account pass role is not allowed.", 403)
        sessions = self.ports.role_sessions
        if sessions is not None and not sessions.assumable_by(role, LAMBDA_PRINCIPAL):
            raise invalid(CANNOT_ASSUME)

    def _attach_layers(self, config: dict[str, Any], arns: list[str]) -> None:
        """A function's `Layers` as its configuration shows them ({Arn, CodeSize}), with the content each
        environment is given kept aside (`_LayerHex`, in the function's order)."""
        if self.layers is None:
            raise invalid("Conveyor is running without layers.")
        attached = self.layers.for_function(arns)
        if attached:
            config["Layers"] = [{"Arn": a["Arn"], "CodeSize": a["CodeSize"]} for a in attached]
            config["_LayerHex"] = [a["_CodeHex"] for a in attached]
        else:
            config.pop("Layers", None)
            config.pop("_LayerHex", None)

    async def code_bytes(self, code: Mapping[str, Any]) -> bytes:
        return await self._code_bytes(code)

    async def _code_bytes(self, code: Mapping[str, Any]) -> bytes:
        """The package a FunctionCode (or UpdateFunctionCode's members) names: inline, or an S3 object."""
        if code.get("ImageUri"):
            raise invalid("Conveyor runs .zip packages only (ImageUri needs a container runtime).")
        inline = code.get("ZipFile")
        if isinstance(inline, bytes):  # the codec hands blobs over as bytes
            return inline
        bucket, key = code.get("S3Bucket"), code.get("S3Key")
        if bucket and key:
            return await self._s3_object(bucket, key, code.get("S3ObjectVersion"))
        raise invalid("Please provide a source for function code.")

    async def _s3_object(self, bucket: str, key: str, version: str | None) -> bytes:
        """Read the package straight from the S3 service (no HTTP round trip, no SDK in the server)."""
        objects = self.ports.objects
        if objects is None:
            raise invalid("Conveyor is running without S3: upload the package inline (ZipFile).")
        try:
            return await objects.read_object(bucket, key, version)
        except ServiceError as exc:
            raise invalid(f"Error occurred while GetObject. S3 Error Code: {exc.code}. S3 Error Message: "
                          f"{exc.message}")

    # -- create, read, list ----------------------------------------------------------------------------
    async def CreateFunction(self, ctx: RequestContext, params: CreateFunctionRequestTypeDef) -> Out:
        name, qualifier = parse_name(params["FunctionName"], self.registry.account)
        if qualifier:
            raise invalid("FunctionName must not include a qualifier when creating a function.")
        check_config(params)  # first: a container image (refused there) needs neither runtime nor handler
        tags = within_tag_limit(check_tags(dict(params.get("Tags") or {})))
        runtime = params.get("Runtime")
        check_runtime(runtime)
        handler = params.get("Handler")
        if not handler:
            raise invalid("Handler is required for .zip file deployment packages.")
        self._check_role(params["Role"], ctx.account_id)
        layers: dict[str, Any] = {}
        if params.get("Layers"):  # checked before the package is fetched
            self._attach_layers(layers, list(params["Layers"]))
        signing = None
        if self.code_signing is not None:
            signing = self.code_signing.attach_on_create(params.get("CodeSigningConfigArn"))
            self.code_signing.check_deployment(name, signing)
        existing = self.registry.functions.get(name)
        if existing is not None and existing.region == ctx.region:
            raise conflict(f"Function already exist: {name}")
        if existing is not None:  # names are per account here, not per account and region
            raise conflict(f"Conveyor keeps one function namespace per account: {name} already exists in "
                           f"{existing.region} ({existing.arn}).")
        # Checked and extracted (off the event loop) before anything refers to it.
        hexd, sha, size = await asyncio.to_thread(self.registry.code.put, await self._code_bytes(params["Code"]))
        config: dict[str, Any] = {
            "FunctionName": name, "FunctionArn": self.registry.arn(name, ctx.region), "Runtime": runtime,
            "Role": params["Role"], "Handler": handler, "CodeSize": size,
            "Description": params.get("Description", ""), "Timeout": params.get("Timeout", 3),
            "MemorySize": params.get("MemorySize", 128), "CodeSha256": sha, "Version": "$LATEST",
            "TracingConfig": params.get("TracingConfig") or {"Mode": "PassThrough"},
            "State": "Active", "LastUpdateStatus": "Successful", "PackageType": "Zip",
            "Architectures": params.get("Architectures") or ["x86_64"],
            "EphemeralStorage": params.get("EphemeralStorage") or {"Size": 512},
            "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
            "LoggingConfig": logging_config(name, params.get("LoggingConfig")),
            "_CodeHex": hexd,
        }
        config.update(layers)
        environment = params.get("Environment")
        if environment:
            config["Environment"] = {"Variables": environment.get("Variables") or {}}
        if params.get("DeadLetterConfig"):
            config["DeadLetterConfig"] = params.get("DeadLetterConfig")
        self.registry.new_revision(config, self.clock.now())
        fn = Function(name, config, tags=tags, code_signing=signing)
        if params.get("Publish"):
            self._publish(fn, "")
        await self.registry.save(fn)
        if params.get("Publish"):
            # The version's configuration under the function's unqualified ARN: what Lambda answers
            # CreateFunction with Publish (UpdateFunctionCode with Publish answers the version's own ARN),
            # as measured against the live service (floci-io/floci#2825).
            return {**public(fn.versions["1"]), "FunctionArn": fn.arn}
        return public(config)

    async def GetFunction(self, ctx: RequestContext, params: GetFunctionRequestTypeDef) -> Out:
        fn, qualifier = self.registry.get(params["FunctionName"], ctx.region, params.get("Qualifier"))
        config = fn.resolve(qualifier)
        location = code_url.presigned_location(ctx, *self.credential, fn.name, config["_CodeHex"])
        out: Out = {
            "Configuration": shown(fn, config, qualifier),
            "Code": {"RepositoryType": "S3", "Location": location},
        }
        if fn.tags:
            out["Tags"] = fn.tags
        if fn.reserved is not None:
            out["Concurrency"] = {"ReservedConcurrentExecutions": fn.reserved}
        return out

    async def GetFunctionConfiguration(self, ctx: RequestContext, params: GetFunctionConfigurationRequestTypeDef) -> Out:
        fn, qualifier = self.registry.get(params["FunctionName"], ctx.region, params.get("Qualifier"))
        return shown(fn, fn.resolve(qualifier), qualifier)

    async def ListFunctions(self, ctx: RequestContext, params: ListFunctionsRequestTypeDef) -> Out:
        configs: list[Out] = []
        # Another account's caller lists its own account's functions: none here.
        foreign = ctx.principal is not None and ctx.principal.account_id != self.registry.account
        for name in [] if foreign else sorted(self.registry.functions):
            fn = self.registry.functions[name]
            if fn.region != ctx.region:
                continue
            if params.get("FunctionVersion") == "ALL":
                configs.append(listed(shown(fn, fn.config, "$LATEST")))
                configs.extend(listed(public(v)) for v in fn.versions.values())
            else:
                configs.append(listed(public(fn.config)))
        return page(configs, params.get("Marker"), params.get("MaxItems"), "Functions", lambda c: c["FunctionArn"])

    async def ListVersionsByFunction(self, ctx: RequestContext, params: ListVersionsByFunctionRequestTypeDef) -> Out:
        fn, _ = self.registry.get(params["FunctionName"], ctx.region)
        configs = [listed(shown(fn, fn.config, "$LATEST")), *(listed(public(v)) for v in fn.versions.values())]
        return page(configs, params.get("Marker"), params.get("MaxItems"), "Versions", lambda c: c["Version"])

    # -- delete ----------------------------------------------------------------------------------------
    async def DeleteFunction(self, ctx: RequestContext, params: DeleteFunctionRequestTypeDef) -> Out:
        fn, qualifier = self.registry.get(params["FunctionName"], ctx.region, params.get("Qualifier"))
        if qualifier and qualifier != "$LATEST":
            if qualifier not in fn.versions:
                raise not_found(f"Function not found: {fn.arn}:{qualifier}")
            if aliases_of(fn, qualifier):  # listed as Lambda lists them: [live, prod]
                raise conflict(f"Unable to delete version because the following aliases reference it: "
                               f"[{', '.join(aliases_of(fn, qualifier))}]")
            del fn.versions[qualifier]
            fn.policy = [s for s in fn.policy if s.get("Resource") != f"{fn.arn}:{qualifier}"]
            fn.invoke_configs.pop(qualifier, None)  # its asynchronous invocation settings go with it
            await self.registry.save(fn)
            return {}
        if qualifier == "$LATEST":
            raise invalid("$LATEST version cannot be deleted without deleting the function.")
        await self.registry.delete(fn)
        await self.mappings.function_deleted(fn.name)
        if self.stream_mappings is not None:
            await self.stream_mappings.function_deleted(fn.name)
        await self.invoker.runtime.retire(fn.name)
        return {}

    # -- update and publish ----------------------------------------------------------------------------
    async def UpdateFunctionCode(self, ctx: RequestContext, params: UpdateFunctionCodeRequestTypeDef) -> Out:
        fn, _ = self.registry.get(params["FunctionName"], ctx.region)
        if params.get("DryRun"):
            return public(fn.config)
        self._check_revision(fn, params.get("RevisionId"))
        if self.code_signing is not None:
            self.code_signing.check_deployment(fn.name, fn.code_signing)
        hexd, sha, size = await asyncio.to_thread(self.registry.code.put, await self._code_bytes(params))
        fn.config.update(CodeSha256=sha, CodeSize=size, _CodeHex=hexd)
        return await self._changed(fn, bool(params.get("Publish")))

    async def UpdateFunctionConfiguration(self, ctx: RequestContext,
                                          params: UpdateFunctionConfigurationRequestTypeDef) -> Out:
        fn, _ = self.registry.get(params["FunctionName"], ctx.region)
        self._check_revision(fn, params.get("RevisionId"))
        if "Runtime" in params:
            check_runtime(params["Runtime"])
        check_config(params)
        if "Role" in params:
            self._check_role(params["Role"], ctx.account_id)
        layers: dict[str, Any] = {}
        if params.get("Layers"):  # checked before anything changes
            self._attach_layers(layers, list(params["Layers"]))
        given: Mapping[str, Any] = params
        for key in _CONFIG_KEYS:
            if key in given:
                fn.config[key] = given[key]
        if "Environment" in params:
            fn.config["Environment"] = {"Variables": params["Environment"].get("Variables") or {}}
        if "LoggingConfig" in params:
            fn.config["LoggingConfig"] = logging_config(fn.name, params["LoggingConfig"])
        if "Layers" in params:
            fn.config.pop("Layers", None)
            fn.config.pop("_LayerHex", None)
            fn.config.update(layers)
        return await self._changed(fn, False)

    @staticmethod
    def _check_revision(fn: Function, revision: str | None) -> None:
        if revision and revision != fn.config["RevisionId"]:
            raise revision_mismatch("GetFunction/GetAlias")

    async def _changed(self, fn: Function, publish: bool) -> Out:
        self.registry.new_revision(fn.config, self.clock.now())
        fn.generation += 1
        result = self._publish(fn, None) if publish else fn.config
        await self.registry.save(fn)
        await self.invoker.runtime.retire(fn.name)
        return public(result)

    @staticmethod
    def _publish(fn: Function, description: str | None) -> Out:
        latest = fn.config
        if fn.versions:
            last = fn.versions[max(fn.versions, key=int)]
            if latest.get("_PublishedRev") == latest["RevisionId"]:
                return last  # neither code nor configuration changed since: no new version
        # Version numbers only grow, even past deleted versions (AWS never reuses one).
        number = str(max(latest.get("_LastVersion", 0), *(int(v) for v in fn.versions), 0) + 1)
        latest["_LastVersion"] = int(number)
        version = copy.deepcopy(latest)
        version["Version"] = number
        version["FunctionArn"] = f"{fn.arn}:{number}"
        if description is not None:
            version["Description"] = description or latest.get("Description", "")
        fn.versions[number] = version
        latest["_PublishedRev"] = latest["RevisionId"]
        return version

    async def PublishVersion(self, ctx: RequestContext, params: PublishVersionRequestTypeDef) -> Out:
        fn, _ = self.registry.get(params["FunctionName"], ctx.region)
        sha = params.get("CodeSha256")
        if sha and sha != fn.config["CodeSha256"]:
            raise invalid("CodeSHA256 does not match the $LATEST code.")
        version = self._publish(fn, params.get("Description"))
        await self.registry.save(fn)
        return public(version)

    # -- concurrency -----------------------------------------------------------------------------------
    async def PutFunctionConcurrency(self, ctx: RequestContext, params: PutFunctionConcurrencyRequestTypeDef) -> Out:
        fn, _ = self.registry.get(params["FunctionName"], ctx.region)
        value = params["ReservedConcurrentExecutions"]
        others = sum(f.reserved or 0 for f in self.registry.functions.values() if f is not fn)
        if others + value > ACCOUNT_CONCURRENCY - UNRESERVED_MINIMUM:
            raise invalid("Specified ReservedConcurrentExecutions for function decreases account's "
                          f"UnreservedConcurrentExecution below its minimum value of [{UNRESERVED_MINIMUM}].")
        fn.reserved = value
        await self.registry.save(fn)
        self.invoker.runtime.wake_all(fn.name)
        self.mappings.concurrency_changed(fn)
        return {"ReservedConcurrentExecutions": value}

    async def GetFunctionConcurrency(self, ctx: RequestContext, params: GetFunctionConcurrencyRequestTypeDef) -> Out:
        fn, _ = self.registry.get(params["FunctionName"], ctx.region)
        return {} if fn.reserved is None else {"ReservedConcurrentExecutions": fn.reserved}

    async def DeleteFunctionConcurrency(self, ctx: RequestContext,
                                        params: DeleteFunctionConcurrencyRequestTypeDef) -> Out:
        fn, _ = self.registry.get(params["FunctionName"], ctx.region)
        fn.reserved = None
        await self.registry.save(fn)
        self.invoker.runtime.wake_all(fn.name)
        self.mappings.concurrency_changed(fn)
        return {}

    async def GetAccountSettings(self, ctx: RequestContext, params: Mapping[str, Any]) -> Out:
        """(The operation has no input members, so the stubs have no request type for it.)"""
        functions = self.registry.functions.values()
        reserved = sum(f.reserved or 0 for f in functions)
        return {"AccountLimit": {"TotalCodeSize": 80530636800, "CodeSizeUnzipped": 262144000,
                                 "CodeSizeZipped": 52428800, "ConcurrentExecutions": ACCOUNT_CONCURRENCY,
                                 "UnreservedConcurrentExecutions": ACCOUNT_CONCURRENCY - reserved},
                "AccountUsage": {"TotalCodeSize": sum(f.config["CodeSize"] for f in functions),
                                 "FunctionCount": len(self.registry.functions)}}
