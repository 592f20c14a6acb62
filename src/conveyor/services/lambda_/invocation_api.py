"""Lambda's operations on how a function is invoked: Invoke itself, the asynchronous invocation settings
(retries, event age, destinations) and the event source mappings (SQS queues in esm, Kinesis streams in
stream_esm: a mapping's EventSourceArn, or its UUID, says which)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from conveyor.services.lambda_.async_invoke import AsyncInvokes
from conveyor.services.lambda_.esm import Mappings
from conveyor.services.lambda_.invoke import (
    MAX_EVENT_PAYLOAD,
    MAX_SYNC_PAYLOAD,
    Invoker,
    check_payload,
    decode_client_context,
)
from conveyor.services.lambda_.paging import page
from conveyor.services.lambda_.registry import Registry
from conveyor.services.lambda_.stream_esm import StreamMappings, is_stream_arn
from conveyor.wire import RequestContext

if TYPE_CHECKING:
    from mypy_boto3_lambda.type_defs import (
        CreateEventSourceMappingRequestTypeDef,
        DeleteEventSourceMappingRequestTypeDef,
        DeleteFunctionEventInvokeConfigRequestTypeDef,
        GetEventSourceMappingRequestTypeDef,
        GetFunctionEventInvokeConfigRequestTypeDef,
        InvocationRequestTypeDef,
        ListEventSourceMappingsRequestTypeDef,
        ListFunctionEventInvokeConfigsRequestTypeDef,
        PutFunctionEventInvokeConfigRequestTypeDef,
        UpdateEventSourceMappingRequestTypeDef,
        UpdateFunctionEventInvokeConfigRequestTypeDef,
    )

Out = dict[str, Any]
LOG_TAIL_BYTES = 4096  # Invoke's LogResult: "the last 4 KB of the execution log" (API_Invoke.html)


class InvocationOperations:
    def __init__(self, registry: Registry, invoker: Invoker, async_invokes: AsyncInvokes, mappings: Mappings,
                 stream_mappings: StreamMappings) -> None:
        self.registry = registry
        self.invoker = invoker
        self.async_invokes = async_invokes
        self.mappings = mappings
        self.stream_mappings = stream_mappings

    # -- invoke ----------------------------------------------------------------------------------------
    async def Invoke(self, ctx: RequestContext, params: InvocationRequestTypeDef) -> Out:
        fn, qualifier = self.registry.get(params["FunctionName"], ctx.region, params.get("Qualifier"))
        kind = params.get("InvocationType") or "RequestResponse"
        given = params.get("Payload")
        payload = given if isinstance(given, bytes) else b""  # the codec hands blobs over as bytes
        if kind == "DryRun":
            fn.resolve(qualifier)
            return {"StatusCode": 204}
        if kind == "Event":
            check_payload(payload, MAX_EVENT_PAYLOAD)
            fn.resolve(qualifier)
            await self.async_invokes.submit(fn, qualifier, payload, request_id=ctx.request_id)
            # Queued, not run: 202 and no payload (the function's answer goes to its destinations only).
            # https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html#API_Invoke_ResponseSyntax
            return {"StatusCode": 202}
        check_payload(payload, MAX_SYNC_PAYLOAD)
        client_context = decode_client_context(params.get("ClientContext"))
        result = await self.invoker.invoke(fn, qualifier, payload, wait=False,
                                           client_context=client_context, request_id=ctx.request_id)
        out: Out = {"StatusCode": 200, "Payload": result.payload, "ExecutedVersion": result.version}
        if result.function_error:
            out["FunctionError"] = result.function_error
        if params.get("LogType") == "Tail":
            out["LogResult"] = base64.b64encode(result.log_tail.encode()[-LOG_TAIL_BYTES:]).decode()
        return out

    async def InvokeAsync(self, ctx: RequestContext, params: Mapping[str, Any]) -> Out:
        """The deprecated asynchronous Invoke (https://docs.aws.amazon.com/lambda/latest/api/API_InvokeAsync.html):
        the event is queued as Invoke's Event type queues it; the answer is 202 with Status 202."""
        fn, qualifier = self.registry.get(params["FunctionName"], ctx.region)
        given = params.get("InvokeArgs")
        payload = given if isinstance(given, bytes) else b""
        check_payload(payload, MAX_EVENT_PAYLOAD)
        fn.resolve(qualifier)
        await self.async_invokes.submit(fn, qualifier, payload, request_id=ctx.request_id)
        return {"Status": 202}

    # -- asynchronous invocation settings --------------------------------------------------------------
    async def PutFunctionEventInvokeConfig(self, ctx: RequestContext,
                                           params: PutFunctionEventInvokeConfigRequestTypeDef) -> Out:
        fn, qualifier = self.registry.get(params["FunctionName"], ctx.region, params.get("Qualifier"))
        return await self.async_invokes.put_config(fn, qualifier, params, replace=True)

    async def UpdateFunctionEventInvokeConfig(self, ctx: RequestContext,
                                              params: UpdateFunctionEventInvokeConfigRequestTypeDef) -> Out:
        fn, qualifier = self.registry.get(params["FunctionName"], ctx.region, params.get("Qualifier"))
        return await self.async_invokes.put_config(fn, qualifier, params, replace=False)

    async def GetFunctionEventInvokeConfig(self, ctx: RequestContext,
                                           params: GetFunctionEventInvokeConfigRequestTypeDef) -> Out:
        fn, qualifier = self.registry.get(params["FunctionName"], ctx.region, params.get("Qualifier"))
        return self.async_invokes.get_config(fn, qualifier)

    async def DeleteFunctionEventInvokeConfig(self, ctx: RequestContext,
                                              params: DeleteFunctionEventInvokeConfigRequestTypeDef) -> Out:
        fn, qualifier = self.registry.get(params["FunctionName"], ctx.region, params.get("Qualifier"))
        self.async_invokes.get_config(fn, qualifier)
        fn.set_event_config(qualifier, None)
        await self.registry.save(fn)
        return {}

    async def ListFunctionEventInvokeConfigs(self, ctx: RequestContext,
                                             params: ListFunctionEventInvokeConfigsRequestTypeDef) -> Out:
        fn, _ = self.registry.get(params["FunctionName"], ctx.region)
        configs = self.async_invokes.all_configs(fn)
        return page(configs, params.get("Marker"), params.get("MaxItems"), "FunctionEventInvokeConfigs",
                    lambda c: c["FunctionArn"])

    # -- event source mappings -------------------------------------------------------------------------
    async def CreateEventSourceMapping(self, ctx: RequestContext,
                                       params: CreateEventSourceMappingRequestTypeDef) -> Out:
        if is_stream_arn(params.get("EventSourceArn")):
            return await self.stream_mappings.create(params, ctx.region)
        return await self.mappings.create(params, ctx.region)

    async def GetEventSourceMapping(self, ctx: RequestContext, params: GetEventSourceMappingRequestTypeDef) -> Out:
        streamed = self.stream_mappings.get(params["UUID"])
        if streamed is not None:
            return self.stream_mappings.describe(streamed)
        return self.mappings.describe(self.mappings.get(params["UUID"], ctx.request_id))

    async def UpdateEventSourceMapping(self, ctx: RequestContext,
                                       params: UpdateEventSourceMappingRequestTypeDef) -> Out:
        if self.stream_mappings.get(params["UUID"]) is not None:
            return await self.stream_mappings.update(params, ctx.region)
        return await self.mappings.update(params, ctx.region, ctx.request_id)

    async def DeleteEventSourceMapping(self, ctx: RequestContext,
                                       params: DeleteEventSourceMappingRequestTypeDef) -> Out:
        if self.stream_mappings.get(params["UUID"]) is not None:
            return await self.stream_mappings.delete(params["UUID"])
        return await self.mappings.delete(params["UUID"], ctx.request_id)

    async def ListEventSourceMappings(self, ctx: RequestContext,
                                      params: ListEventSourceMappingsRequestTypeDef) -> Out:
        function, source = params.get("FunctionName"), params.get("EventSourceArn")
        found = self.mappings.listing(function, source, ctx.region) + \
            self.stream_mappings.listing(function, source, ctx.region)
        return page(found, params.get("Marker"), params.get("MaxItems"), "EventSourceMappings", lambda m: m["UUID"])
