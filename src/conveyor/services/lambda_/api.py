"""Lambda's API (rest-json), thin over the registry, the invoker, event source mappings and async invokes."""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import logging
from pathlib import Path
from typing import Any

from conveyor.ports import Ports
from conveyor.protocol.models import service_model
from conveyor.protocol.registry import codecs_for
from conveyor.protocol.validate import ValidationCodes
from conveyor.services.base import Environment, Service
from conveyor.services.lambda_ import internal as lambda_internal
from conveyor.services.lambda_.aliases import AliasesMixin
from conveyor.services.lambda_.async_invoke import AsyncInvokes
from conveyor.services.lambda_.esm import Mappings
from conveyor.services.lambda_.functions import (
    Function,
    Registry,
    check_config,
    check_runtime,
    conflict,
    invalid,
    not_found,
    parse_name,
)
from conveyor.services.lambda_.invoke import (
    CANNOT_ASSUME,
    LAMBDA_PRINCIPAL,
    MAX_EVENT_PAYLOAD,
    MAX_SYNC_PAYLOAD,
    Invoker,
    check_payload,
    decode_client_context,
)
from conveyor.services.lambda_.permissions import PermissionsMixin
from conveyor.storage.disk import DiskFull
from conveyor.wire import RequestContext, ServiceError

log = logging.getLogger(__name__)
_CONFIG_KEYS = ("Role", "Handler", "Description", "Timeout", "MemorySize", "Environment", "Runtime",
                "DeadLetterConfig", "TracingConfig", "VpcConfig", "EphemeralStorage", "LoggingConfig")


class LambdaValidationCodes(ValidationCodes):
    """Model constraint failures are ValidationException on Lambda, with AWS's message shape."""

    def missing_error(self, path: str) -> ServiceError:
        return ServiceError("ValidationException", f"1 validation error detected: Value null at '{_camel(path)}' "
                            "failed to satisfy constraint: Member must not be null")

    def invalid_error(self, path: str, value: Any, reason: str) -> ServiceError:
        return ServiceError("ValidationException", f"1 validation error detected: Value '{value}' at "
                            f"'{_camel(path)}' failed to satisfy constraint: {reason}")


def _camel(path: str) -> str:
    return ".".join(p[:1].lower() + p[1:] for p in path.split("."))


def public(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if not k.startswith("_")}


class LambdaService(AliasesMixin, PermissionsMixin, Service):
    name = "lambda"
    signing_aliases = ("execute-api",)
    validation_codes = LambdaValidationCodes()
    internal_prefix = "functions"  # /_conveyor/functions: `conveyor functions` and `conveyor logs`

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        self.model = service_model("lambda")
        self.codecs = codecs_for(self.model)
        self.root: Path = self.config.service_dir("lambda")
        self.registry = Registry(self.root, self.config.region, env.disk)
        self.invoker = Invoker(self)
        self.mappings = Mappings(self)
        self.async_invokes = AsyncInvokes(self)

    # -- lifecycle -------------------------------------------------------------------------------------
    async def start(self) -> None:
        self.registry.open()
        await self.async_invokes.start()
        await self.mappings.start()

    async def stop(self) -> None:
        await self.mappings.stop()
        await self.async_invokes.stop()
        await self.invoker.runtime.stop()
        self.registry.close()

    async def reset(self) -> None:
        await self.mappings.stop()
        await self.async_invokes.stop()
        await self.invoker.runtime.reset()
        self.invoker.forget()
        await self.registry.reset()
        self.invoker.logs.wipe()
        self.mappings.clear()
        self.async_invokes.clear()

    def health(self) -> dict[str, Any]:
        return {"status": "running", "functions": len(self.registry.functions),
                "concurrency": self.invoker.runtime.snapshot(), "mappings": self.mappings.snapshot(),
                "async_pending": self.async_invokes.pending(), "async_running": self.async_invokes.running()}

    def endpoint(self) -> str:
        return self.env.local_endpoint()

    def arn(self, name: str, region: str | None = None) -> str:
        return f"arn:aws:lambda:{region or self.config.region}:{self.config.account_id}:function:{name}"

    def function(self, ref: str, region: str | None = None) -> tuple[Function, str | None]:
        """The function `ref` names; `region` is the request's (None for in-process callers holding an ARN)."""
        return self.registry.get(ref, self.config.account_id, region)

    def provide(self, ports: Ports) -> None:
        ports.functions = self

    def status(self) -> dict[str, Any]:
        return {"functions": lambda_internal.functions_summary(self)}

    async def internal(self, ctx: RequestContext, parts: list[str]) -> Any:
        return await lambda_internal.handle(self, ctx, parts, ctx.request.method)

    # -- in-process API for other services (conveyor.ports.Functions) ---------------------------------
    def resource_exists(self, arn: str) -> bool:
        try:
            self.function(arn)
        except ServiceError:
            return False
        return True

    async def invoke_event(self, function_arn: str, payload: dict[str, Any]) -> None:
        """Queue an asynchronous invocation (S3 notifications, SNS subscriptions, destinations)."""
        fn, qualifier = self.function(function_arn)
        await self.async_invokes.submit(fn, qualifier, json.dumps(payload).encode())

    async def deliver_from_s3(self, function_arn: str, body: str) -> None:
        """An S3 notification; S3 checked the resource policy when the bucket was configured, and an
        invocation it is no longer allowed to make is dropped, as S3 does (it never retries one)."""
        event = json.loads(body)
        bucket = ((event.get("Records") or [{}])[0].get("s3") or {}).get("bucket", {}).get("arn")
        if not self.invoke_allowed(function_arn, "s3.amazonaws.com", bucket):
            log.warning("S3 (%s) may not invoke %s: no resource policy statement allows it", bucket, function_arn)
            return
        await self.invoke_event(function_arn, event)

    async def deliver_from_sns(self, function_arn: str, event: dict[str, Any]) -> None:
        """An SNS notification; without a statement allowing sns.amazonaws.com the delivery fails (and
        SNS treats it as a failed delivery: its retries, then the subscription's dead-letter queue)."""
        topic = (event.get("Records") or [{}])[0].get("Sns", {}).get("TopicArn")
        if not self.invoke_allowed(function_arn, "sns.amazonaws.com", topic):
            raise ServiceError("AccessDeniedException", f"SNS topic {topic} is not allowed to invoke "
                               f"{function_arn}: add a permission for sns.amazonaws.com (lambda add-permission).",
                               403)
        await self.invoke_event(function_arn, event)

    # -- functions -------------------------------------------------------------------------------------
    def _check_role(self, role: str) -> None:
        """The execution role must exist and trust lambda.amazonaws.com, or Lambda refuses the function.
        https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html"""
        sessions = self.ports.role_sessions
        if sessions is not None and not sessions.assumable_by(role, LAMBDA_PRINCIPAL):
            raise invalid(CANNOT_ASSUME)

    async def _code_bytes(self, code: dict[str, Any]) -> bytes:
        if code.get("ImageUri"):
            raise invalid("Conveyor runs .zip packages only (ImageUri needs a container runtime).")
        if code.get("ZipFile") is not None:
            return code["ZipFile"]
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

    async def CreateFunction(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name, qualifier = parse_name(params["FunctionName"], self.config.account_id)
        if qualifier:
            raise invalid("FunctionName must not include a qualifier when creating a function.")
        check_runtime(params.get("Runtime"))
        if not params.get("Handler"):
            raise invalid("Handler is required for .zip file deployment packages.")
        check_config(params)
        self._check_role(params["Role"])
        existing = self.registry.functions.get(name)
        if existing is not None and existing.region == ctx.region:
            raise conflict(f"Function already exist: {name}")
        if existing is not None:  # names are per account here, not per account and region
            raise conflict(f"Conveyor keeps one function namespace per account: {name} already exists in "
                           f"{existing.region} ({existing.arn}).")
        hexd, sha, size = self.registry.code.put(await self._code_bytes(params["Code"]))
        config: dict[str, Any] = {
            "FunctionName": name, "FunctionArn": self.arn(name, ctx.region), "Runtime": params["Runtime"],
            "Role": params["Role"], "Handler": params["Handler"], "CodeSize": size,
            "Description": params.get("Description", ""), "Timeout": params.get("Timeout", 3),
            "MemorySize": params.get("MemorySize", 128), "CodeSha256": sha, "Version": "$LATEST",
            "TracingConfig": params.get("TracingConfig") or {"Mode": "PassThrough"},
            "State": "Active", "LastUpdateStatus": "Successful", "PackageType": "Zip",
            "Architectures": params.get("Architectures") or ["x86_64"],
            "EphemeralStorage": params.get("EphemeralStorage") or {"Size": 512},
            "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
            "LoggingConfig": {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"},
            "_CodeHex": hexd,
        }
        if params.get("Environment"):
            config["Environment"] = {"Variables": params["Environment"].get("Variables") or {}}
        if params.get("DeadLetterConfig"):
            config["DeadLetterConfig"] = params["DeadLetterConfig"]
        self.registry.new_revision(config, self.clock.now())
        fn = Function(name, config, tags=params.get("Tags") or {})
        if params.get("Publish"):
            self._publish(fn, "")
        await self.registry.save(fn)
        with contextlib.suppress(DiskFull):  # (extracted again on first use: the function itself is stored)
            self.registry.code.extracted(hexd)
        return public(fn.versions["1"] if params.get("Publish") else config)

    def _publish(self, fn: Function, description: str | None) -> dict[str, Any]:
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

    async def GetFunction(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        fn, qualifier = self.function(params["FunctionName"], ctx.region)
        config = fn.resolve(params.get("Qualifier") or qualifier)
        out: dict[str, Any] = {
            "Configuration": public(config),
            "Code": {"RepositoryType": "S3",
                     "Location": (self.registry.code.root / f"{config['_CodeHex']}.zip").as_uri()},
        }
        if fn.tags:
            out["Tags"] = fn.tags
        if fn.reserved is not None:
            out["Concurrency"] = {"ReservedConcurrentExecutions": fn.reserved}
        return out

    async def GetFunctionConfiguration(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        fn, qualifier = self.function(params["FunctionName"], ctx.region)
        return public(fn.resolve(params.get("Qualifier") or qualifier))

    async def ListFunctions(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        configs: list[dict[str, Any]] = []
        for name in sorted(self.registry.functions):
            fn = self.registry.functions[name]
            if fn.region != ctx.region:
                continue
            configs.append(public(fn.config))
            if params.get("FunctionVersion") == "ALL":
                configs.extend(public(v) for v in fn.versions.values())
        return page(configs, params, "Functions", lambda c: c["FunctionArn"])

    async def ListVersionsByFunction(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        fn, _ = self.function(params["FunctionName"], ctx.region)
        configs = [public(fn.config), *(public(v) for v in fn.versions.values())]
        return page(configs, params, "Versions", lambda c: c["Version"])

    async def DeleteFunction(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        fn, qualifier = self.function(params["FunctionName"], ctx.region)
        qualifier = params.get("Qualifier") or qualifier
        if qualifier and qualifier != "$LATEST":
            if qualifier not in fn.versions:
                raise not_found(f"Function not found: {fn.arn}:{qualifier}")
            if self.aliases_of(fn, qualifier):
                raise conflict(f"Unable to delete version because the following aliases reference it: "
                               f"{self.aliases_of(fn, qualifier)}")
            del fn.versions[qualifier]
            fn.policy = [s for s in fn.policy if s.get("Resource") != f"{fn.arn}:{qualifier}"]
            await self.registry.save(fn)
            return {}
        if qualifier == "$LATEST":
            raise invalid("$LATEST version cannot be deleted without deleting the function.")
        await self.registry.delete(fn)
        await self.mappings.function_deleted(fn.name)
        await self.invoker.runtime.retire(fn.name)
        return {}

    async def UpdateFunctionCode(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        fn, _ = self.function(params["FunctionName"], ctx.region)
        if params.get("DryRun"):
            return public(fn.config)
        self._check_revision(fn, params)
        hexd, sha, size = self.registry.code.put(await self._code_bytes(params))
        fn.config.update(CodeSha256=sha, CodeSize=size, _CodeHex=hexd)
        return await self._changed(fn, bool(params.get("Publish")))

    async def UpdateFunctionConfiguration(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        fn, _ = self.function(params["FunctionName"], ctx.region)
        self._check_revision(fn, params)
        if "Runtime" in params:
            check_runtime(params["Runtime"])
        check_config(params)
        if "Role" in params:
            self._check_role(params["Role"])
        for key in _CONFIG_KEYS:
            if key in params:
                fn.config[key] = params[key]
        if "Environment" in params:
            fn.config["Environment"] = {"Variables": params["Environment"].get("Variables") or {}}
        return await self._changed(fn, False)

    def _check_revision(self, fn: Function, params: dict[str, Any]) -> None:
        if params.get("RevisionId") and params["RevisionId"] != fn.config["RevisionId"]:
            raise ServiceError("PreconditionFailedException", "The Revision Id provided does not match the latest "
                               "Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
                               412)

    async def _changed(self, fn: Function, publish: bool) -> dict[str, Any]:
        self.registry.new_revision(fn.config, self.clock.now())
        fn.generation += 1
        result = self._publish(fn, None) if publish else fn.config
        await self.registry.save(fn)
        with contextlib.suppress(DiskFull):  # (extracted again on first use: the change itself is stored)
            self.registry.code.extracted(fn.config["_CodeHex"])
        await self.invoker.runtime.retire(fn.name)
        return public(result)

    async def PublishVersion(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        fn, _ = self.function(params["FunctionName"], ctx.region)
        if params.get("CodeSha256") and params["CodeSha256"] != fn.config["CodeSha256"]:
            raise invalid("CodeSHA256 does not match the $LATEST code.")
        version = self._publish(fn, params.get("Description"))
        await self.registry.save(fn)
        return public(version)

    # -- invoke ----------------------------------------------------------------------------------------
    async def Invoke(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        fn, qualifier = self.function(params["FunctionName"], ctx.region)
        qualifier = params.get("Qualifier") or qualifier
        kind = params.get("InvocationType") or "RequestResponse"
        payload: bytes = params.get("Payload") or b""
        if kind == "DryRun":
            fn.resolve(qualifier)
            return {"StatusCode": 204}
        if kind == "Event":
            check_payload(payload, MAX_EVENT_PAYLOAD)
            fn.resolve(qualifier)
            await self.async_invokes.submit(fn, qualifier, payload, request_id=ctx.request_id)
            return {"StatusCode": 202}
        check_payload(payload, MAX_SYNC_PAYLOAD)
        client_context = decode_client_context(params.get("ClientContext"))
        result = await self.invoker.invoke(fn, qualifier, payload, wait=False,
                                           client_context=client_context, request_id=ctx.request_id)
        out: dict[str, Any] = {"StatusCode": 200, "Payload": result.payload, "ExecutedVersion": result.version}
        if result.function_error:
            out["FunctionError"] = result.function_error
        if params.get("LogType") == "Tail":
            out["LogResult"] = base64.b64encode(result.log_tail.encode()[-4096:]).decode()
        return out

    # -- concurrency -----------------------------------------------------------------------------------
    async def PutFunctionConcurrency(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        fn, _ = self.function(params["FunctionName"], ctx.region)
        value = params["ReservedConcurrentExecutions"]
        others = sum(f.reserved or 0 for f in self.registry.functions.values() if f is not fn)
        if others + value > 1000 - 100:
            raise invalid("Specified ReservedConcurrentExecutions for function decreases account's "
                          "UnreservedConcurrentExecution below its minimum value of [100].")
        fn.reserved = value
        await self.registry.save(fn)
        self.invoker.runtime.wake_all(fn.name)
        self.mappings.concurrency_changed(fn)
        return {"ReservedConcurrentExecutions": value}

    async def GetFunctionConcurrency(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        fn, _ = self.function(params["FunctionName"], ctx.region)
        return {} if fn.reserved is None else {"ReservedConcurrentExecutions": fn.reserved}

    async def DeleteFunctionConcurrency(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        fn, _ = self.function(params["FunctionName"], ctx.region)
        fn.reserved = None
        await self.registry.save(fn)
        self.invoker.runtime.wake_all(fn.name)
        self.mappings.concurrency_changed(fn)
        return {}

    async def GetAccountSettings(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        reserved = sum(f.reserved or 0 for f in self.registry.functions.values())
        return {"AccountLimit": {"TotalCodeSize": 80530636800, "CodeSizeUnzipped": 262144000,
                                 "CodeSizeZipped": 52428800, "ConcurrentExecutions": 1000,
                                 "UnreservedConcurrentExecutions": 1000 - reserved},
                "AccountUsage": {"TotalCodeSize": sum(f.config["CodeSize"] for f in self.registry.functions.values()),
                                 "FunctionCount": len(self.registry.functions)}}

    # -- tags ------------------------------------------------------------------------------------------
    def _tagged(self, resource: str, region: str) -> Function:
        fn, _ = self.function(resource, region)
        return fn

    async def TagResource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        fn = self._tagged(params["Resource"], ctx.region)
        fn.tags.update(params["Tags"])
        await self.registry.save(fn)
        return {}

    async def ListTags(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"Tags": self._tagged(params["Resource"], ctx.region).tags}

    async def UntagResource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        fn = self._tagged(params["Resource"], ctx.region)
        for key in params["TagKeys"]:
            fn.tags.pop(key, None)
        await self.registry.save(fn)
        return {}

    # -- async invoke configuration --------------------------------------------------------------------
    async def PutFunctionEventInvokeConfig(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        fn, _ = self.function(params["FunctionName"], ctx.region)
        return await self.async_invokes.put_config(fn, params, replace=True)

    async def UpdateFunctionEventInvokeConfig(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        fn, _ = self.function(params["FunctionName"], ctx.region)
        return await self.async_invokes.put_config(fn, params, replace=False)

    async def GetFunctionEventInvokeConfig(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        fn, _ = self.function(params["FunctionName"], ctx.region)
        return self.async_invokes.get_config(fn)

    async def DeleteFunctionEventInvokeConfig(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        fn, _ = self.function(params["FunctionName"], ctx.region)
        self.async_invokes.get_config(fn)
        fn.invoke_config = None
        await self.registry.save(fn)
        return {}

    # -- event source mappings -------------------------------------------------------------------------
    async def CreateEventSourceMapping(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return await self.mappings.create(params, ctx.region)

    async def GetEventSourceMapping(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self.mappings.describe(self.mappings.get(params["UUID"]))

    async def UpdateEventSourceMapping(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return await self.mappings.update(params, ctx.region)

    async def DeleteEventSourceMapping(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return await self.mappings.delete(params["UUID"])

    async def ListEventSourceMappings(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return page(self.mappings.list(params.get("FunctionName"), params.get("EventSourceArn"), ctx.region), params,
                     "EventSourceMappings", lambda m: m["UUID"])


def page(items: list[dict[str, Any]], params: dict[str, Any], key: str, ident: Any) -> dict[str, Any]:
    start = 0
    marker = params.get("Marker")
    if marker:
        ids = [ident(i) for i in items]
        if marker not in ids:
            raise invalid(f"Invalid marker: {marker}")
        start = ids.index(marker) + 1
    size = params.get("MaxItems") or 50
    page = items[start:start + size]
    out: dict[str, Any] = {key: page}
    if start + size < len(items):
        out["NextMarker"] = ident(page[-1])
    return out
