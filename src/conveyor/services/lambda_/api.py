"""Lambda (rest-json): the service object wires the parts and answers other services (conveyor.ports.Functions).

    store          every statement (conveyor.services.lambda_.store)
    registry       the functions, by name, over the store; code packages
    invoker        one invocation: a concurrency slot, an execution environment, the result
    mappings       SQS event source mappings and their pollers
    stream_mappings  Kinesis event source mappings, one poller per shard, reading through the Streams port
    async_invokes  the durable queue of asynchronous invocations, retries and destinations
    layers         layer versions (their content stored as packages are)
    code_signing   code signing configurations
    url_plane      function URLs served on Conveyor's port (url_configs holds their settings)

The operations live in groups over those parts (function_api, aliases, permissions, invocation_api,
url_configs, layers, code_signing, tagging); the gateway finds them through `operation_groups`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from botocore.model import OperationModel

from conveyor.authz import Denial, Need
from conveyor.authz.needs import arn_account
from conveyor.links import MAPPING, Link
from conveyor.ports import Invocation, Ports
from conveyor.services.base import Environment, Service
from conveyor.services.lambda_ import code_url, iam
from conveyor.services.lambda_.aliases import AliasOperations
from conveyor.services.lambda_.async_invoke import AsyncInvokes
from conveyor.services.lambda_.code_signing import CodeSigningConfigs, CodeSigningOperations
from conveyor.services.lambda_.esm import Mappings
from conveyor.services.lambda_.function_api import FunctionOperations
from conveyor.services.lambda_.functions import not_found
from conveyor.services.lambda_.internal import FunctionEndpoints
from conveyor.services.lambda_.invocation_api import InvocationOperations
from conveyor.services.lambda_.invoke import MAX_SYNC_PAYLOAD, Invoker, check_payload
from conveyor.services.lambda_.layers import LayerOperations, Layers
from conveyor.services.lambda_.permissions import PermissionOperations
from conveyor.services.lambda_.registry import Registry
from conveyor.services.lambda_.store import LambdaStore
from conveyor.services.lambda_.stream_esm import StreamMappings
from conveyor.services.lambda_.tag_rules import LambdaViolations
from conveyor.services.lambda_.tagging import TagOperations
from conveyor.services.lambda_.url_configs import FunctionUrlOperations, url_id_of
from conveyor.services.lambda_.url_plane import FunctionUrlPlane
from conveyor.wire import HttpResponse, RequestContext, ServiceError

log = logging.getLogger(__name__)


class LambdaService(Service):
    name = "lambda"
    other_accounts_by_resource_policy = True  # another account's caller: by the resource's policy alone
    signing_aliases = ("execute-api",)
    # Model constraint failures are ValidationException, in the words of AWS's constraint messages
    # ("Member must have length less than or equal to 256"), e.g. a Description over the 256 characters
    # https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html allows.
    # Patterns too: names, ARNs, qualifiers, handlers, environment variable names (a name with a trailing
    # newline is refused with the model's pattern, as AWS refuses it).
    validation_codes = LambdaViolations("ValidationException", query_lists=False, patterns=True, whole_lists=True,
                                        member_not_null=True)
    internal_prefix = "functions"  # /_conveyor/functions: `conveyor functions` and `conveyor logs`

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        root = self.config.service_dir("lambda")
        self.store = LambdaStore(root / "lambda.db", env.disk)
        self.registry = Registry(self.store, root / "code", self.config.account_id, self.config.region, env.disk)
        self.invoker = Invoker(self.registry, env, root / "logs")
        self.mappings = Mappings(self.registry, self.store, self.invoker, self.ports, self.clock)
        self.stream_mappings = StreamMappings(self.registry, self.store, self.invoker, self.ports, self.clock)
        self.async_invokes = AsyncInvokes(self.registry, self.store, self.invoker, self.ports, self.clock)
        self.permissions = PermissionOperations(self.registry)
        self.endpoints = FunctionEndpoints(self.registry, self.invoker, self.mappings)
        self.urls = FunctionUrlOperations(self.registry)
        self.url_plane = FunctionUrlPlane(self.urls, self.invoker, self.ports, self)
        self.data_plane = self.url_plane  # unsigned requests to function URLs, claimed by Host
        self.layers = Layers(self.store, self.registry)
        self.code_signing = CodeSigningConfigs(self.store, self.registry)
        credential = (self.config.access_key, self.config.secret_key)  # presigns Code.Location downloads
        functions = FunctionOperations(self.registry, self.invoker, self.mappings, self.ports, self.clock, credential,
                                       self.stream_mappings, self.layers, self.code_signing)
        self.operation_groups = (
            functions,
            AliasOperations(self.registry),
            self.permissions,
            InvocationOperations(self.registry, self.invoker, self.async_invokes, self.mappings,
                                 self.stream_mappings),
            self.urls,
            LayerOperations(self.layers, functions.code_bytes, credential),
            CodeSigningOperations(self.code_signing),
            TagOperations(self.registry, self.mappings, self.stream_mappings, self.code_signing),
        )

    # -- lifecycle -------------------------------------------------------------------------------------
    async def start(self) -> None:
        self.store.open()
        self.registry.load()
        self.layers.load()
        self.code_signing.load()
        await self.async_invokes.start()
        await self.mappings.start()
        await self.stream_mappings.start()

    async def stop(self) -> None:
        await self.stream_mappings.stop()
        await self.mappings.stop()
        await self.async_invokes.stop()
        await self.invoker.runtime.stop()
        self.store.close()

    async def reset(self) -> None:
        await self.stream_mappings.stop()
        await self.mappings.stop()
        await self.async_invokes.stop()
        await self.invoker.runtime.reset()
        self.invoker.forget()
        await self.registry.reset()
        self.layers.clear()
        self.code_signing.clear()
        self.invoker.logs.wipe()
        self.mappings.clear()
        self.stream_mappings.clear()
        self.async_invokes.clear()

    def health(self) -> dict[str, Any]:
        return {"status": "running", "functions": len(self.registry.functions),
                "concurrency": self.invoker.runtime.snapshot(), "mappings": self.mappings.snapshot(),
                "stream_mappings": self.stream_mappings.snapshot(),
                "async_pending": self.async_invokes.pending(), "async_running": self.async_invokes.running()}

    def provide(self, ports: Ports) -> None:
        ports.functions = self
        ports.policy_holders["lambda"] = self  # function policies, for IAM's evaluation

    def resource_policy(self, arn: str) -> str | None:
        """conveyor.ports.PolicyHolder: the policy of the function, version or alias the ARN names."""
        return self.permissions.policy_document(arn)

    def status(self) -> dict[str, Any]:
        return {"functions": self.endpoints.summary()}

    def links(self) -> list[Link]:
        found = []
        for m in self.mappings.snapshot().values():
            fn = self.registry.functions.get(m["function"])
            arn = fn.arn if fn is not None else self.registry.arn(m["function"])
            found.append(Link(m["queue"], arn, MAPPING, "" if m["enabled"] else "disabled"))
        return found
    def iam_requests(self, ctx: RequestContext, operation: OperationModel, params: dict[str, Any]) -> list[Need]:
        return iam.needs(ctx, operation.name, params)

    async def check(self, ctx: RequestContext, operation: OperationModel, params: dict[str, Any]) -> None:
        """Another account's caller, once the function's policy let it through (conveyor.authz): a function of
        its own account (a bare name, or an ARN with its account id) does not exist here, and it creates none
        (Conveyor holds the configured account's functions only)."""
        caller = ctx.principal
        if caller is None or caller.account_id == ctx.account_id:
            return
        for need in self.iam_requests(ctx, operation, params):
            if ":function:" in need.resource and arn_account(need.resource) == caller.account_id:
                if operation.name == "CreateFunction":
                    raise self.access_denied(ctx, Denial(caller.arn, need.action, need.resource, False, None))
                raise not_found(f"Function not found: {need.resource}")

    async def internal(self, ctx: RequestContext, parts: list[str]) -> Any:
        return await self.endpoints.handle(ctx, parts)

    async def intercept(self, ctx: RequestContext) -> HttpResponse | None:
        """GetFunction's Code.Location downloads: presigned for lambda, yet no operation of the model; and
        signed requests to function URLs (AWS_IAM), authenticated by the gateway as any signed request."""
        if url_id_of(ctx.request.headers.get("host") or "") is not None:
            return await self.url_plane.serve_signed(ctx)
        if ctx.request.path.startswith(code_url.PREFIX):
            return await code_url.download(ctx, self.registry, self.layers.has_content)
        return None

    # -- conveyor.ports.Functions: S3, SNS and destinations invoke functions ---------------------------
    def resource_exists(self, arn: str) -> bool:
        try:
            self.registry.get(arn)
        except ServiceError:
            return False
        return True

    def invoke_allowed(self, function_arn: str, service_principal: str, source_arn: str | None) -> bool:
        return self.permissions.invoke_allowed(function_arn, service_principal, source_arn)

    async def invoke_event(self, function_arn: str, payload: Any) -> None:
        """Queue an asynchronous invocation (S3 notifications, SNS subscriptions, destinations)."""
        await self.async_invokes.submit_to(function_arn, json.dumps(payload).encode())

    async def invoke(self, function_arn: str, payload: bytes) -> Invocation:
        """A synchronous invocation for another service (API Gateway's Lambda proxy integrations), checked
        and throttled as Invoke with RequestResponse is."""
        try:
            fn, qualifier = self.registry.get(function_arn)
            check_payload(payload, MAX_SYNC_PAYLOAD)
            result = await self.invoker.invoke(fn, qualifier, payload, wait=False)
        except ServiceError as exc:
            return Invocation(exc.status, error_code=exc.code)
        return Invocation(200, result.payload, result.function_error)

    async def deliver_from_s3(self, arn: str, bodies: Sequence[str]) -> None:
        """S3 notifications, one invocation each; S3 checked the resource policy when the bucket was
        configured, and an invocation it is no longer allowed to make is dropped, as S3 does (it never
        retries one)."""
        for body in bodies:
            event = json.loads(body)
            bucket = ((event.get("Records") or [{}])[0].get("s3") or {}).get("bucket", {}).get("arn")
            if not self.invoke_allowed(arn, "s3.amazonaws.com", bucket):
                log.warning("S3 (%s) may not invoke %s: no resource policy statement allows it", bucket, arn)
                continue
            await self.invoke_event(arn, event)

    async def deliver_from_sns(self, function_arn: str, event: dict[str, Any]) -> None:
        """An SNS notification; without a statement allowing sns.amazonaws.com the delivery fails (and
        SNS treats it as a failed delivery: its retries, then the subscription's dead-letter queue)."""
        topic = (event.get("Records") or [{}])[0].get("Sns", {}).get("TopicArn")
        if not self.invoke_allowed(function_arn, "sns.amazonaws.com", topic):
            raise ServiceError("AccessDeniedException", f"SNS topic {topic} is not allowed to invoke "
                               f"{function_arn}: add a permission for sns.amazonaws.com (lambda add-permission).",
                               403)
        await self.invoke_event(function_arn, event)
