"""SQS event source mappings: pollers that long-poll a queue in process and invoke the function with batches.

Semantics follow https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html:
- messages are deleted only when the batch succeeds (or, with ReportBatchItemFailures, all but the
  reported ones); failed messages reappear after the queue's visibility timeout and reach its DLQ
  through the redrive policy (the SQS engine applies it at receive time);
- a batching window (server clock) gathers up to BatchSize messages; BatchSize > 10 needs a window;
- scaling: five concurrent pollers to start; while full batches keep coming and messages remain, a
  poller is added, at most 300 a minute spread evenly (one per 0.2 s of real time: AWS ramps up, it
  does not start hundreds of environments at once), up to MaximumConcurrency, the reserved
  concurrency or 1000; pollers beyond the first five leave once the queue is drained;
- FIFO queues: the engine hands out a message group to one batch at a time, so groups stay in order.
Pollers never spin: they park in the engine's long poll and the clock's timers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections import abc
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from conveyor.clock import Clock
from conveyor.ports import Ports, Queues, Refusal
from conveyor.services.lambda_ import mapping_metrics, poller_access, sqs_records, stream_filters
from conveyor.services.lambda_.functions import Function, conflict, invalid, not_found
from conveyor.services.lambda_.invoke import Invoker
from conveyor.services.lambda_.registry import Registry
from conveyor.services.lambda_.store import LambdaStore
from conveyor.services.lambda_.tag_rules import check_tags

if TYPE_CHECKING:
    from mypy_boto3_lambda.type_defs import (
        CreateEventSourceMappingRequestTypeDef,
        UpdateEventSourceMappingRequestTypeDef,
    )

log = logging.getLogger(__name__)
START_POLLERS = 5
GROWTH_PER_MINUTE = 300
LONG_POLL = 20
MAX_PAYLOAD = 6 * 1024 * 1024 - 1024  # the synchronous invocation limit, less the envelope
_SETTINGS = ("BatchSize", "MaximumBatchingWindowInSeconds", "FunctionResponseTypes", "ScalingConfig", "Enabled")
_UNSUPPORTED = ("StartingPosition", "StartingPositionTimestamp", "ParallelizationFactor",
                "MaximumRecordAgeInSeconds", "BisectBatchOnFunctionError", "MaximumRetryAttempts",
                "TumblingWindowInSeconds", "Topics", "Queues", "SourceAccessConfigurations", "SelfManagedEventSource",
                "AmazonManagedKafkaEventSourceConfig", "SelfManagedKafkaEventSourceConfig",
                "DocumentDBEventSourceConfig", "KMSKeyArn", "ProvisionedPollerConfig",
                "DestinationConfig")


@dataclass
class Mapping:
    uuid: str
    function: str  # function name
    qualifier: str | None
    source_arn: str
    batch_size: int = 10
    window: int = 0
    enabled: bool = True
    response_types: list[str] = field(default_factory=list)
    max_concurrency: int | None = None
    last_modified: float = 0.0
    tags: dict[str, str] = field(default_factory=dict)
    filters: list[str] = field(default_factory=list)  # FilterCriteria's patterns, as given
    metrics: list[str] = field(default_factory=list)  # MetricsConfig's Metrics
    # runtime state, not persisted
    pollers: set[asyncio.Task[None]] = field(default_factory=set, repr=False)
    inflight: int = 0
    peak: int = 0
    last_added: float = field(default=float("-inf"), repr=False)  # time.monotonic() of the last scale-out
    batches: int = 0
    failed_batches: int = 0
    running: bool = False
    epoch: int = 0  # bumped when the mapping stops or changes: pollers of an older epoch leave
    busy: set[asyncio.Task[None]] = field(default_factory=set, repr=False)  # pollers inside an invocation
    gathering: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)  # held through a batching window
    # LastProcessingResult, once there is something to say: why the execution role cannot poll, or OK again.
    last_result: str | None = None

    def doc(self) -> str:
        return json.dumps({"uuid": self.uuid, "function": self.function, "qualifier": self.qualifier,
                           "source_arn": self.source_arn, "batch_size": self.batch_size, "window": self.window,
                           "enabled": self.enabled, "response_types": self.response_types,
                           "max_concurrency": self.max_concurrency, "last_modified": self.last_modified,
                           "tags": self.tags, "filters": self.filters, "metrics": self.metrics})


_PERSISTED = ("function", "qualifier", "batch_size", "window", "enabled", "response_types", "max_concurrency",
              "last_modified", "filters", "metrics")


class Mappings:
    def __init__(self, registry: Registry, store: LambdaStore, invoker: Invoker, ports: Ports, clock: Clock) -> None:
        self.registry = registry
        self.store = store
        self.invoker = invoker
        self.ports = ports
        self.clock = clock
        self.by_uuid: dict[str, Mapping] = {}

    # -- lifecycle -------------------------------------------------------------------------------------
    async def start(self) -> None:
        for doc in self.store.mapping_docs():
            m = Mapping(**json.loads(doc))
            self.by_uuid[m.uuid] = m
            self._run(m)

    async def stop(self) -> None:
        await asyncio.gather(*(self._halt(m, graceful=False) for m in self.by_uuid.values()))

    def clear(self) -> None:
        self.by_uuid.clear()

    def snapshot(self) -> dict[str, Any]:
        return {m.uuid: {"function": m.function, "queue": m.source_arn, "enabled": m.enabled,
                         "pollers": len(m.pollers), "concurrency": m.inflight, "peak": m.peak,
                         "batches": m.batches, "failed_batches": m.failed_batches, "cap": self._cap(m)}
                for m in self.by_uuid.values()}

    # -- API -------------------------------------------------------------------------------------------
    def get(self, ident: str, request_id: str) -> Mapping:
        """The mapping; ResourceNotFoundException naming the request's id, as Lambda's message does."""
        m = self.by_uuid.get(ident)
        if m is None:
            raise not_found(f"The resource you requested does not exist. (Service: Lambda, Status Code: 404, "
                            f"Request ID: {request_id})")
        return m

    def describe(self, m: Mapping, state: str | None = None) -> dict[str, Any]:
        fn = self.registry.functions.get(m.function)
        arn = fn.arn if fn else self.registry.arn(m.function)
        region = fn.region if fn else self.registry.region
        out: dict[str, Any] = {
            "UUID": m.uuid, "BatchSize": m.batch_size, "MaximumBatchingWindowInSeconds": m.window,
            "EventSourceArn": m.source_arn, "FunctionArn": f"{arn}:{m.qualifier}" if m.qualifier else arn,
            "LastModified": m.last_modified, "State": state or ("Enabled" if m.enabled else "Disabled"),
            "StateTransitionReason": "USER_INITIATED", "FunctionResponseTypes": m.response_types,
            "EventSourceMappingArn": f"arn:aws:lambda:{region}:"
                                     f"{self.registry.account}:event-source-mapping:{m.uuid}",
        }
        if m.max_concurrency is not None:
            out["ScalingConfig"] = {"MaximumConcurrency": m.max_concurrency}
        if m.filters:
            out["FilterCriteria"] = {"Filters": [{"Pattern": p} for p in m.filters]}
        if m.metrics:
            out["MetricsConfig"] = mapping_metrics.shown(m.metrics)
        if m.last_result is not None:
            out["LastProcessingResult"] = m.last_result
        return out

    def listing(self, function: str | None, source: str | None, region: str) -> list[dict[str, Any]]:
        name = None
        if function:
            fn, _ = self.registry.get(function, region)
            name = fn.name
        return [self.describe(m) for m in self.by_uuid.values()
                if (name is None or m.function == name) and (source is None or m.source_arn == source)]

    async def create(self, params: CreateEventSourceMappingRequestTypeDef, region: str) -> dict[str, Any]:
        fn, qualifier = self.registry.get(params["FunctionName"], region)
        source = params.get("EventSourceArn") or ""
        if not source.startswith("arn:aws:sqs:"):
            raise invalid(f"Conveyor maps SQS queues only; {source or 'no EventSourceArn'} is not an SQS queue ARN.")
        queue = self._queue(source)
        for other in self.by_uuid.values():
            if other.source_arn == source and other.function == fn.name:
                raise conflict(f'An event source mapping with SQS arn (" {source} ") and function (" {fn.name} ") '
                               f"already exists. Please update or delete the existing mapping with UUID {other.uuid}")
        m = Mapping(str(uuid.uuid4()), fn.name, qualifier, source, last_modified=self.clock.now(),
                    tags=check_tags(dict(params.get("Tags") or {})))
        self._apply(m, params, queue, fn, creating=True)
        self._role_may_poll(m, "CreateEventSourceMapping")
        await self._save(m)
        self.by_uuid[m.uuid] = m
        self._run(m)
        # The answer to a create says "Creating"; reads show "Enabled" once the pollers run (the states
        # EventSourceMappingConfiguration lists: Creating, Enabling, Enabled, Disabling, Disabled, ...).
        # https://docs.aws.amazon.com/lambda/latest/api/API_EventSourceMappingConfiguration.html
        return self.describe(m, "Creating")

    async def update(self, params: UpdateEventSourceMappingRequestTypeDef, region: str,
                     request_id: str) -> dict[str, Any]:
        m = self.get(params["UUID"], request_id)
        # Changed on a copy: the running mapping changes only once the change is stored.
        new = Mapping(**json.loads(m.doc()))
        renamed = params.get("FunctionName")
        if renamed:
            named, new.qualifier = self.registry.get(renamed, region)
            new.function = named.name
        fn = self.registry.functions.get(new.function)
        if fn is None:
            raise not_found(f"Function not found: {self.registry.arn(new.function)}")
        self._apply(new, params, self._queue(new.source_arn), fn, creating=False)
        if renamed:
            self._role_may_poll(new, "UpdateEventSourceMapping")
        new.last_modified = self.clock.now()
        await self._save(new)
        for name in _PERSISTED:
            setattr(m, name, getattr(new, name))
        await self._halt(m)
        self._run(m)
        return self.describe(m, "Updating")

    async def delete(self, ident: str, request_id: str) -> dict[str, Any]:
        m = self.get(ident, request_id)
        out = self.describe(m, "Deleting")
        await self.store.delete_mapping(ident)
        if self.by_uuid.get(ident) is m:
            del self.by_uuid[ident]
            await self._halt(m)
        return out

    async def function_deleted(self, name: str) -> None:
        """AWS keeps mappings of a deleted function (they fail); Conveyor stops their pollers."""
        for m in self.by_uuid.values():
            if m.function == name:
                await self._halt(m)

    def concurrency_changed(self, fn: Function) -> None:
        for m in self.by_uuid.values():
            if m.function == fn.name and m.running:
                self._fill(m)

    # -- settings --------------------------------------------------------------------------------------
    def _queues(self) -> Queues:
        queues = self.ports.queues
        if queues is None:
            raise invalid("Conveyor is running without its SQS service.")
        return queues

    def _queue(self, arn: str) -> dict[str, str]:
        """The attributes of the mapping's queue (as GetQueueAttributes names them)."""
        queues = self.ports.queues
        queue = queues.queue_attributes(arn) if queues is not None else None
        if queue is None:
            raise invalid("Error occurred while ReceiveMessage. SQS Error Code: "
                          "AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified queue does "
                          "not exist or you do not have access to it.")
        return queue

    def _apply(self, m: Mapping, params: abc.Mapping[str, Any], queue: dict[str, str], fn: Function,
               creating: bool) -> None:
        for key in _UNSUPPORTED:
            if params.get(key) not in (None, [], {}):
                raise invalid(f"{key} is not supported by Conveyor for SQS event sources.")
        fifo = queue.get("FifoQueue") == "true"
        batch = params.get("BatchSize", m.batch_size)
        window = params.get("MaximumBatchingWindowInSeconds", m.window)
        limit = 10 if fifo else 10000
        if not 1 <= batch <= limit:
            raise invalid(f"BatchSize must be between 1 and {limit} for {'FIFO' if fifo else 'standard'} queues.")
        if not 0 <= window <= 300:
            raise invalid("MaximumBatchingWindowInSeconds must be between 0 and 300.")
        if fifo and window:
            raise invalid("Batching window is not supported for FIFO queues")
        if batch > 10 and window == 0:
            raise invalid("Maximum batch window in seconds must be greater than 0 if maximum batch size is "
                          "greater than 10")
        types = params.get("FunctionResponseTypes", m.response_types) or []
        if any(t != "ReportBatchItemFailures" for t in types):
            raise invalid("FunctionResponseTypes may only contain ReportBatchItemFailures.")
        scaling = params.get("ScalingConfig")
        if scaling is not None:
            value = scaling.get("MaximumConcurrency")
            if value is not None and not 2 <= value <= 1000:
                raise invalid("MaximumConcurrency must be between 2 and 1000.")
            m.max_concurrency = value
        config = fn.resolve(m.qualifier)
        visibility = int(queue.get("VisibilityTimeout", "30"))
        if visibility < config["Timeout"]:
            raise invalid(f"Queue visibility timeout: {visibility} seconds is less than Function timeout: "
                          f"{config['Timeout']} seconds")
        m.batch_size, m.window, m.response_types = batch, window, list(types)
        if "FilterCriteria" in params:  # {} (or no Filters) removes them
            m.filters = stream_filters.checked(params["FilterCriteria"] or {})
        if "MetricsConfig" in params:
            m.metrics = mapping_metrics.checked(params["MetricsConfig"])
        if "Enabled" in params:
            m.enabled = bool(params["Enabled"])

    def _role_may_poll(self, m: Mapping, operation: str) -> None:
        refused = self._refusal(m, poller_access.SQS_ACTIONS, f"lambda.{operation}")
        if refused is not None:
            raise poller_access.create_refused(m.source_arn, refused)

    def _refusal(self, m: Mapping, actions: tuple[str, ...], call: str | None = None,
                 record: bool = True) -> Refusal | None:
        return poller_access.refusal(self.ports, self.registry, m.function, m.qualifier, m.source_arn, actions,
                                     call or f"lambda event source mapping {m.uuid}", record=record)

    async def retag(self, m: Mapping, tags: dict[str, str]) -> None:
        """Replace the mapping's tags, once stored."""
        new = Mapping(**json.loads(m.doc()))
        new.tags = tags
        await self._save(new)
        m.tags = tags

    async def _save(self, m: Mapping) -> None:
        await self.store.put_mapping(m.uuid, m.doc())

    # -- pollers ---------------------------------------------------------------------------------------
    def _cap(self, m: Mapping) -> int:
        fn = self.registry.functions.get(m.function)
        cap = 1000
        if m.max_concurrency is not None:
            cap = min(cap, m.max_concurrency)
        if fn is not None and fn.reserved is not None:
            cap = min(cap, fn.reserved)
        return max(cap, 0)

    def _base(self, m: Mapping) -> int:
        return min(START_POLLERS, self._cap(m))

    def _run(self, m: Mapping) -> None:
        if not m.enabled or m.function not in self.registry.functions:
            return
        m.running = True
        self._fill(m)

    def _fill(self, m: Mapping) -> None:
        while m.running and len(m.pollers) < self._base(m):
            self._add(m)

    def _add(self, m: Mapping) -> None:
        task = asyncio.ensure_future(self._poll(m, m.epoch))
        pollers = m.pollers
        pollers.add(task)
        task.add_done_callback(pollers.discard)

    async def _halt(self, m: Mapping, graceful: bool = True) -> None:
        """Stop polling. Gracefully (update, disable, delete), a batch already handed to the function
        finishes and is deleted or left as usual; only pollers parked in a receive are cancelled. The
        server stopping cancels everything: in-flight messages come back after their visibility timeout."""
        m.running = False
        m.epoch += 1
        tasks = [t for t in m.pollers if not graceful or t not in m.busy]
        m.pollers = set()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task

    def _maybe_grow(self, m: Mapping, visible: float) -> None:
        # Real time, not the service clock: the ramp is a rate of process starts on this machine, and
        # a manual test clock standing still must not freeze (or unleash) it.
        now = time.monotonic()
        if visible > 0 and len(m.pollers) < self._cap(m) and now - m.last_added >= 60 / GROWTH_PER_MINUTE:
            m.last_added = now
            self._add(m)

    def _visible(self, m: Mapping) -> float:
        try:
            return float(self._queues().counters(m.source_arn)["visible"])
        except Exception:
            return 0.0

    async def _poll(self, m: Mapping, epoch: int) -> None:
        sqs = self._queues()
        clock = self.clock
        me: Any = asyncio.current_task()
        def admitted() -> bool:  # asked again when a parked receive wakes: the role may have lost it since
            return self._refusal(m, ("sqs:ReceiveMessage",), record=False) is None

        while m.running and m.epoch == epoch:
            refused = self._refusal(m, ("sqs:ReceiveMessage", "sqs:GetQueueAttributes"))
            if refused is not None:
                m.last_result = poller_access.problem(refused)
                await poller_access.pause(clock)
                continue
            try:
                if m.window > 0:
                    # One poller gathers at a time, so a trickle of messages makes one batch per window
                    # rather than one per poller; invocations still run side by side.
                    async with m.gathering:
                        batch = await sqs.receive(m.source_arn, min(10, m.batch_size), wait=LONG_POLL, admit=admitted)
                        deadline = clock.now() + m.window
                        while batch and len(batch) < m.batch_size and m.running and clock.now() < deadline:
                            more = await sqs.receive(m.source_arn, min(10, m.batch_size - len(batch)),
                                                     wait=max(0.0, deadline - clock.now()), admit=admitted)
                            batch = sqs_records.merge(batch, more)
                else:
                    batch = await sqs.receive(m.source_arn, min(10, m.batch_size), wait=LONG_POLL, admit=admitted)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the queue was deleted: stop quietly until the mapping changes
                log.info("mapping %s cannot poll %s: %s", m.uuid, m.source_arn, exc)
                return
            if not batch:
                if len(m.pollers) > self._base(m):
                    m.pollers.discard(me)
                    return  # scale in: idle pollers beyond the first five leave
                continue
            visible = self._visible(m)
            if len(batch) >= min(10, m.batch_size):
                self._maybe_grow(m, visible)
            m.inflight += 1
            m.peak = max(m.peak, m.inflight)
            m.busy.add(me)
            try:
                await self._process(m, batch)
            finally:
                m.inflight -= 1
                m.busy.discard(me)
            if self._visible(m) == 0 and len(m.pollers) > self._base(m):
                m.pollers.discard(me)
                return

    async def _process(self, m: Mapping, batch: list[dict[str, Any]]) -> None:
        """Invoke the function with the batch, in as many invocations as the 6 MB payload limit needs
        (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html: a batch ends at the
        batch size, the window or 6 MB). A failed part of a FIFO batch stops the rest, to keep order.
        Messages no filter matches are deleted without reaching the function (sqs_records)."""
        fn = self.registry.functions.get(m.function)
        if fn is None:
            return  # the messages come back after their visibility timeout
        region = m.source_arn.split(":")[3]  # the queue's region, as in AWS's records
        filters = [stream_filters.parsed(p) for p in m.filters]
        counts = mapping_metrics.EventCounts(self.ports, m.source_arn, m.uuid, m.metrics)
        counts.add("PolledEventCount", len(batch))
        parts: list[list[tuple[dict[str, Any], str]]] = [[]]
        dropped: list[dict[str, Any]] = []
        size = 0
        for msg in batch:
            rec = sqs_records.record(msg, m.source_arn, region)
            if not sqs_records.kept(filters, rec):
                dropped.append(msg)
                continue
            record = json.dumps(rec)
            if parts[-1] and size + len(record) + 1 > MAX_PAYLOAD:
                parts.append([])
                size = 0
            parts[-1].append((msg, record))
            size += len(record) + 1
        if dropped:
            counts.add("FilteredOutEventCount", len(dropped))
            await self._delete(m, dropped, counts)
        for part in parts:
            if not part:
                continue
            ok = await self._invoke_part(m, fn, [msg for msg, _ in part], [record for _, record in part], counts)
            if not ok and m.source_arn.endswith(".fifo"):
                return

    async def _invoke_part(self, m: Mapping, fn: Function, batch: list[dict[str, Any]], records: list[str],
                           counts: mapping_metrics.EventCounts) -> bool:
        payload = ('{"Records": [' + ", ".join(records) + "]}").encode()
        m.batches += 1
        counts.add("InvokedEventCount", len(batch))
        try:
            result = await self.invoker.invoke(fn, m.qualifier, payload, wait=True)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("mapping %s: invoking %s failed: %s", m.uuid, fn.name, exc)
            m.failed_batches += 1
            counts.add("FailedInvokeEventCount", len(batch))
            return False
        if result.function_error is not None:
            m.failed_batches += 1
            counts.add("FailedInvokeEventCount", len(batch))
            return False
        done = batch
        if "ReportBatchItemFailures" in m.response_types:
            failed = sqs_records.failed_ids(result.payload, {msg["MessageId"] for msg in batch})
            if failed is None:  # an invalid response fails the whole batch
                m.failed_batches += 1
                counts.add("FailedInvokeEventCount", len(batch))
                return False
            done = [msg for msg in batch if msg["MessageId"] not in failed]
        if not await self._delete(m, done, counts):
            return False
        return len(done) == len(batch)

    async def _delete(self, m: Mapping, done: list[dict[str, Any]], counts: mapping_metrics.EventCounts) -> bool:
        """Delete handled (or filtered out) messages, if the execution role may; False when it may not."""
        refused = self._refusal(m, ("sqs:DeleteMessage",))
        if refused is not None:  # processed, but not deleted: the messages come back after their visibility timeout
            m.last_result = poller_access.problem(refused)
            return False
        if m.last_result is not None:
            m.last_result = "OK"
        sqs = self._queues()
        results = await asyncio.gather(*(sqs.delete(m.source_arn, msg["ReceiptHandle"]) for msg in done),
                                       return_exceptions=True)
        for r in results:
            if isinstance(r, Exception):
                log.warning("mapping %s: delete failed: %s", m.uuid, r)
        counts.add("DeletedEventCount", sum(not isinstance(r, Exception) for r in results))
        return True

