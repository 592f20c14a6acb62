"""Asynchronous invocation: a durable event queue with AWS's retries and destinations.

https://docs.aws.amazon.com/lambda/latest/dg/invocation-async.html: an event that fails is retried
twice (by default), one minute and then two minutes later (on the server's clock); an event that still
fails, or is older than MaximumEventAgeInSeconds, goes to the on-failure destination (SQS, SNS or
another function) and to the dead-letter queue (SQS or SNS). Events wait for a concurrency slot rather
than being throttled. Accepted events live in SQLite until handled, so a restart resumes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Mapping
from typing import Any

from conveyor import jsondoc
from conveyor.clock import Clock, TimerHandle
from conveyor.ports import Ports
from conveyor.protocol.base import iso8601
from conveyor.services.lambda_.functions import Function, invalid, not_found
from conveyor.services.lambda_.invoke import Invoker, Result
from conveyor.services.lambda_.registry import Registry
from conveyor.services.lambda_.store import LambdaStore

log = logging.getLogger(__name__)
RETRY_DELAYS = (60.0, 120.0)
DEFAULT_MAX_AGE = 21600


class AsyncInvokes:
    def __init__(self, registry: Registry, store: LambdaStore, invoker: Invoker, ports: Ports, clock: Clock) -> None:
        self.registry = registry
        self.store = store
        self.invoker = invoker
        self.ports = ports
        self.clock = clock
        self.events: dict[str, dict[str, Any]] = {}
        self.timers: dict[str, TimerHandle] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.stopping = False

    # -- lifecycle -------------------------------------------------------------------------------------
    async def start(self) -> None:
        self.stopping = False
        for doc in self.store.async_event_docs():
            event = json.loads(doc)
            self.events[event["id"]] = event
            self._schedule(event)

    async def stop(self) -> None:
        self.stopping = True
        for timer in self.timers.values():
            timer.cancel()
        self.timers.clear()
        for task in list(self.tasks):
            task.cancel()
        for task in list(self.tasks):
            with contextlib.suppress(BaseException):
                await task

    def clear(self) -> None:
        self.events.clear()
        self.stopping = False

    def pending(self) -> int:
        return len(self.events)

    def running(self) -> int:
        """Attempts under way (an attempt ends once its retry, destination or DLQ delivery is settled)."""
        return len(self.tasks)

    # -- configuration ---------------------------------------------------------------------------------
    async def put_config(self, fn: Function, qualifier: str | None, params: Mapping[str, Any],
                         replace: bool) -> dict[str, Any]:
        """Settings of $LATEST, a version or an alias, each its own
        (https://docs.aws.amazon.com/lambda/latest/api/API_PutFunctionEventInvokeConfig.html)."""
        fn.resolve(qualifier)  # a version or alias that does not exist is not found
        existing = fn.event_config(qualifier)
        current = {} if replace or existing is None else dict(existing)
        for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig"):
            if key in params:
                current[key] = params[key]
        for kind in ("OnSuccess", "OnFailure"):
            arn = ((current.get("DestinationConfig") or {}).get(kind) or {}).get("Destination")
            if arn and arn.split(":")[2:3] not in (["sqs"], ["sns"], ["lambda"]):
                raise invalid(f"The destination ARN {arn} is not supported by Conveyor (use an SQS queue, an SNS "
                              "topic or a function).")
        current["LastModified"] = self.clock.now()
        fn.set_event_config(qualifier, current)
        await self.registry.save(fn)
        return self.get_config(fn, qualifier)

    @staticmethod
    def _arn(fn: Function, qualifier: str | None) -> str:
        return f"{fn.arn}:{qualifier}" if qualifier and qualifier != "$LATEST" else fn.arn

    def get_config(self, fn: Function, qualifier: str | None) -> dict[str, Any]:
        config = fn.event_config(qualifier)
        if config is None:
            raise not_found(f"The function {self._arn(fn, qualifier)} doesn't have an EventInvokeConfig")
        # Unqualified, the settings are $LATEST's and the ARN says so, as the developer guide's example
        # answer shows ("...:function:error:$LATEST"):
        # https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-configuring.html
        return {"FunctionArn": f"{fn.arn}:{qualifier or '$LATEST'}", **config}

    def all_configs(self, fn: Function) -> list[dict[str, Any]]:
        qualifiers = (["$LATEST"] if fn.invoke_config is not None else []) + sorted(fn.invoke_configs)
        return [self.get_config(fn, q) for q in qualifiers]

    # -- the queue -------------------------------------------------------------------------------------
    async def submit(self, fn: Function, qualifier: str | None, payload: bytes,
                     request_id: str | None = None) -> str:
        now = self.clock.now()
        event_id = request_id or str(uuid.uuid4())
        event: dict[str, Any] = {"id": event_id, "function": fn.name, "qualifier": qualifier,
                                 "payload": payload.decode("utf-8", errors="replace"), "received": now,
                                 "attempts": 0, "next_at": now}
        await self._save(event)
        self.events[event_id] = event
        self._schedule(event)
        return event_id

    async def submit_to(self, function_arn: str, payload: bytes) -> None:
        """Queue an invocation of the function an ARN names (a destination, S3, SNS)."""
        fn, qualifier = self.registry.get(function_arn)
        await self.submit(fn, qualifier, payload)

    async def _save(self, event: dict[str, Any]) -> None:
        await self.store.put_async_event(event["id"], json.dumps(event))

    async def _forget(self, event: dict[str, Any]) -> None:
        self.events.pop(event["id"], None)
        if self.store.is_open:
            await self.store.delete_async_event(event["id"])

    def _schedule(self, event: dict[str, Any]) -> None:
        if self.stopping:
            return
        clock = self.clock
        if event["next_at"] <= clock.now():
            self._spawn(event)
        else:
            self.timers[event["id"]] = clock.call_at(event["next_at"], lambda: self._spawn(event))

    def _spawn(self, event: dict[str, Any]) -> None:
        self.timers.pop(event["id"], None)
        if self.stopping:
            return
        task = asyncio.ensure_future(self._attempt(event))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _attempt(self, event: dict[str, Any]) -> None:
        fn = self.registry.functions.get(event["function"])
        if fn is None:
            await self._forget(event)
            return
        conf = fn.event_config(event["qualifier"]) or {}
        max_age = conf.get("MaximumEventAgeInSeconds", DEFAULT_MAX_AGE)
        if self.clock.now() - event["received"] > max_age:
            await self._failed(fn, event, None, "EventAgeExceeded")
            return
        event["attempts"] += 1
        try:
            result = await self.invoker.invoke(fn, event["qualifier"], event["payload"].encode(), wait=True,
                                              request_id=event["id"] if event["attempts"] == 1 else None)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # e.g. the qualifier was deleted: nothing to retry against
            log.warning("async invoke of %s failed: %s", fn.name, exc)
            await self._failed(fn, event, None, "RetriesExhausted")
            return
        if result.function_error is None:
            await self._deliver(fn, event, result, "Success", "OnSuccess")
            await self._forget(event)
            return
        retries = conf.get("MaximumRetryAttempts", 2)
        if event["attempts"] <= retries:
            event["next_at"] = self.clock.now() + RETRY_DELAYS[min(event["attempts"], len(RETRY_DELAYS)) - 1]
            await self._save(event)
            self._schedule(event)
            return
        await self._failed(fn, event, result, "RetriesExhausted")

    async def _failed(self, fn: Function, event: dict[str, Any], result: Result | None, condition: str) -> None:
        await self._deliver(fn, event, result, condition, "OnFailure")
        dlq = (fn.config.get("DeadLetterConfig") or {}).get("TargetArn")
        if dlq:
            error = result.error_doc() if result is not None else {"errorMessage": condition}
            attrs = {"RequestID": {"DataType": "String", "StringValue": event["id"]},
                     "ErrorCode": {"DataType": "Number", "StringValue": "200"},
                     "ErrorMessage": {"DataType": "String",
                                      "StringValue": str((error or {}).get("errorMessage", ""))[:1024] or condition}}
            await self._send(dlq, event["payload"], attrs)
        await self._forget(event)

    async def _deliver(self, fn: Function, event: dict[str, Any], result: Result | None, condition: str,
                       kind: str) -> None:
        conf = fn.event_config(event["qualifier"]) or {}
        arn = ((conf.get("DestinationConfig") or {}).get(kind) or {}).get("Destination")
        if not arn:
            return
        try:
            request_payload = jsondoc.loads(event["payload"]) if event["payload"].strip() else {}
        except ValueError:
            request_payload = event["payload"]
        record: dict[str, Any] = {
            "version": "1.0",
            "timestamp": iso8601(self.clock.now()),
            "requestContext": {"requestId": event["id"], "functionArn": f"{fn.arn}:{event['qualifier'] or '$LATEST'}",
                               "condition": condition, "approximateInvokeCount": event["attempts"]},
            "requestPayload": request_payload,
        }
        if result is not None:
            response: dict[str, Any] = {"statusCode": 200, "executedVersion": result.version}
            if result.function_error:
                response["functionError"] = result.function_error
            record["responseContext"] = response
            try:
                record["responsePayload"] = jsondoc.loads(result.payload)
            except ValueError:
                record["responsePayload"] = result.payload.decode(errors="replace")
        await self._send(arn, json.dumps(record), None)

    async def _send(self, arn: str, body: str, attrs: dict[str, Any] | None) -> None:
        ports = self.ports
        kind = arn.split(":")[2] if arn.count(":") >= 5 else ""
        try:
            if kind == "sqs" and ports.queues is not None:
                await ports.queues.send(arn, body, attrs)
            elif kind == "sns" and ports.topics is not None:
                await ports.topics.publish_internal(arn, body, message_attributes=attrs)
            elif kind == "lambda":
                await self.submit_to(arn, body.encode())
        except Exception as exc:  # a missing destination drops the record, as on AWS
            log.warning("cannot deliver to %s: %s", arn, exc)
