"""Kinesis event source mappings: their settings, their lifecycle and the API over them.

https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html and API_CreateEventSourceMapping.html:
StartingPosition (TRIM_HORIZON, LATEST, AT_TIMESTAMP) is required; BatchSize 1-10,000 (default 100);
MaximumBatchingWindowInSeconds 0-300; ParallelizationFactor 1-10; MaximumRetryAttempts -1 or 0-10,000;
MaximumRecordAgeInSeconds -1 or 60-604,800; BisectBatchOnFunctionError; an on-failure destination (an SQS
queue or SNS topic); FunctionResponseTypes ReportBatchItemFailures. Settings Conveyor does not honour for
streams (tumbling windows, enhanced fan-out consumers, on-success destinations) are
refused.
The mapping reads Kinesis through the Streams port (conveyor.ports); SQS mappings are
conveyor.services.lambda_.esm.

A DynamoDB stream (arn:aws:dynamodb:REGION:ACCOUNT:table/T/stream/LABEL) is read by the same engine through
the table_streams port, with the same settings, but StartingPosition TRIM_HORIZON or LATEST only.
https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html
"""

from __future__ import annotations

import json
import uuid
from collections import abc
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from conveyor.clock import Clock
from conveyor.ports import Ports, Streams
from conveyor.services.lambda_ import mapping_metrics, poller_access, stream_filters
from conveyor.services.lambda_.functions import Function, conflict, invalid, not_found
from conveyor.services.lambda_.invoke import Invoker
from conveyor.services.lambda_.registry import Registry
from conveyor.services.lambda_.store import LambdaStore
from conveyor.services.lambda_.stream_batches import Delivery, Settings, is_table_stream
from conveyor.services.lambda_.stream_pollers import END, Pollers
from conveyor.services.lambda_.tag_rules import check_tags

if TYPE_CHECKING:
    from mypy_boto3_lambda.type_defs import (
        CreateEventSourceMappingRequestTypeDef,
        UpdateEventSourceMappingRequestTypeDef,
    )

STARTING_POSITIONS = ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP")
# The pollers name Kinesis' calls; a DynamoDB stream's role is asked for DynamoDB Streams' own (listing the
# shards is DescribeStream there; ListStreams stands for ListShards, as the four actions with-ddb.html names).
_DYNAMODB_CALLS = {"kinesis:DescribeStream": "dynamodb:DescribeStream", "kinesis:ListShards": "dynamodb:ListStreams",
                   "kinesis:GetShardIterator": "dynamodb:GetShardIterator", "kinesis:GetRecords": "dynamodb:GetRecords"}
_UNSUPPORTED = ("Topics", "Queues", "SourceAccessConfigurations", "SelfManagedEventSource",
                "AmazonManagedKafkaEventSourceConfig", "SelfManagedKafkaEventSourceConfig", "ScalingConfig",
                "DocumentDBEventSourceConfig", "KMSKeyArn", "ProvisionedPollerConfig")


def is_stream_arn(arn: str | None) -> bool:
    """A Kinesis stream's or a DynamoDB stream's ARN (read by this engine), not a queue's."""
    if not arn:
        return False
    return arn.split(":")[2:3] == ["kinesis"] or is_table_stream(arn)


def _source_name(arn: str) -> str:
    return "DynamoDB" if is_table_stream(arn) else "Kinesis"


@dataclass
class StreamMapping:
    uuid: str
    function: str
    qualifier: str | None
    source_arn: str
    starting_position: str
    starting_timestamp: float | None = None
    batch_size: int = 100
    window: int = 0
    parallelization: int = 1
    bisect: bool = False
    max_retries: int = -1
    max_age: int = -1
    on_failure: str | None = None
    response_types: list[str] = field(default_factory=list)
    filters: list[str] = field(default_factory=list)  # FilterCriteria's patterns
    metrics: list[str] = field(default_factory=list)  # MetricsConfig's Metrics
    enabled: bool = True
    last_modified: float = 0.0
    tags: dict[str, str] = field(default_factory=dict)

    def doc(self) -> str:
        return json.dumps(asdict(self))


@dataclass
class Running:
    pollers: Pollers
    batches: int = 0
    failed: int = 0


class StreamMappings:
    def __init__(self, registry: Registry, store: LambdaStore, invoker: Invoker, ports: Ports, clock: Clock) -> None:
        self.registry = registry
        self.store = store
        self.invoker = invoker
        self.ports = ports
        self.clock = clock
        self.by_uuid: dict[str, StreamMapping] = {}
        self.running: dict[str, Running] = {}
        self.results: dict[str, str] = {}  # LastProcessingResult

    # -- lifecycle -------------------------------------------------------------------------------------
    async def start(self) -> None:
        for doc in self.store.stream_mapping_docs():
            m = StreamMapping(**json.loads(doc))
            self.by_uuid[m.uuid] = m
            self._run(m)

    async def stop(self) -> None:
        for ident in list(self.running):
            await self._halt(ident, graceful=False)

    def clear(self) -> None:
        self.by_uuid.clear()
        self.results.clear()

    def snapshot(self) -> dict[str, Any]:
        out = {}
        for m in self.by_uuid.values():
            run = self.running.get(m.uuid)
            out[m.uuid] = {"function": m.function, "stream": m.source_arn, "enabled": m.enabled,
                           "shards": sorted(run.pollers.shard_tasks) if run else [],
                           "batches": run.batches if run else 0, "failed_batches": run.failed if run else 0}
        return out

    # -- API -------------------------------------------------------------------------------------------
    def describe(self, m: StreamMapping, state: str | None = None) -> dict[str, Any]:
        fn = self.registry.functions.get(m.function)
        arn = fn.arn if fn else self.registry.arn(m.function)
        region = fn.region if fn else self.registry.region
        out: dict[str, Any] = {
            "UUID": m.uuid, "StartingPosition": m.starting_position, "BatchSize": m.batch_size,
            "MaximumBatchingWindowInSeconds": m.window, "ParallelizationFactor": m.parallelization,
            "EventSourceArn": m.source_arn, "FunctionArn": f"{arn}:{m.qualifier}" if m.qualifier else arn,
            "LastModified": m.last_modified, "LastProcessingResult": self.results.get(m.uuid, "No records processed"),
            "State": state or ("Enabled" if m.enabled else "Disabled"), "StateTransitionReason": "User action",
            "DestinationConfig": {"OnFailure": {"Destination": m.on_failure} if m.on_failure else {}, "OnSuccess": {}},
            "MaximumRecordAgeInSeconds": m.max_age, "BisectBatchOnFunctionError": m.bisect,
            "MaximumRetryAttempts": m.max_retries, "TumblingWindowInSeconds": 0,
            "FunctionResponseTypes": m.response_types,
            "EventSourceMappingArn": f"arn:aws:lambda:{region}:{self.registry.account}:event-source-mapping:{m.uuid}",
        }
        if m.starting_timestamp is not None:
            out["StartingPositionTimestamp"] = m.starting_timestamp
        if m.filters:
            out["FilterCriteria"] = {"Filters": [{"Pattern": p} for p in m.filters]}
        if m.metrics:
            out["MetricsConfig"] = mapping_metrics.shown(m.metrics)
        return out

    def listing(self, function: str | None, source: str | None, region: str) -> list[dict[str, Any]]:
        name = self.registry.get(function, region)[0].name if function else None
        return [self.describe(m) for m in self.by_uuid.values()
                if (name is None or m.function == name) and (source is None or m.source_arn == source)]

    def get(self, ident: str) -> StreamMapping | None:
        return self.by_uuid.get(ident)

    async def retag(self, m: StreamMapping, tags: dict[str, str]) -> None:
        """Replace the mapping's tags, once stored (where it is in each shard stays as it is)."""
        new = StreamMapping(**json.loads(m.doc()))
        new.tags = tags
        await self.store.put_stream_mapping(new.uuid, new.doc())
        m.tags = tags

    async def create(self, params: CreateEventSourceMappingRequestTypeDef, region: str) -> dict[str, Any]:
        fn, qualifier = self.registry.get(params["FunctionName"], region)
        source = params["EventSourceArn"]  # present: the caller routed on it
        streams = self._streams(source)
        shards = streams.shards(source)
        if shards is None:
            raise invalid(f"Stream not found: {source}")
        for other in self.by_uuid.values():
            if other.source_arn == source and other.function == fn.name:
                raise conflict(f'An event source mapping with event source ("{source}"), function ("{fn.arn}"), '
                               f"already exists. Please update or delete the existing mapping with UUID {other.uuid}")
        position = params.get("StartingPosition")
        # Required for streams, and AT_TIMESTAMP is for Kinesis only
        # (https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html#lambda-CreateEventSourceMapping-request-StartingPosition).
        # Lambda's words: a missing one is a null member, though answered as InvalidParameterValueException (a
        # recorded answer: winglang/wing#7178); AT_TIMESTAMP on a table stream is "Unsupported starting
        # position for arn type" (LocalStack's wording, added with snapshot tests in localstack/localstack#12329;
        # no recording of AWS's own answer found). A value
        # outside the enum never gets here: the model's constraint refuses it first (ValidationException).
        if position is None:
            raise invalid("1 validation error detected: Value null at 'startingPosition' failed to satisfy "
                          "constraint: Member must not be null.")
        if is_table_stream(source) and position not in STARTING_POSITIONS[:2]:
            raise invalid(f"Unsupported starting position for arn type: {source}")
        when = params.get("StartingPositionTimestamp")
        if position == "AT_TIMESTAMP" and when is None:
            raise invalid("StartingPositionTimestamp must be specified with StartingPosition AT_TIMESTAMP.")
        m = StreamMapping(str(uuid.uuid4()), fn.name, qualifier, source, position,
                          when.timestamp() if when is not None else None,  # type: ignore[union-attr]
                          last_modified=self.clock.now(), tags=check_tags(dict(params.get("Tags") or {})))
        self._apply(m, params, fn)
        self._role_may_read(m, "CreateEventSourceMapping")
        # LATEST is the tip of each shard now: stored, so that a restart does not move it.
        checkpoints = {}
        if position == "LATEST":
            checkpoints = {s.shard_id: END if s.closed else streams.position(source, s.shard_id, "LATEST")
                           for s in shards}
        await self.store.put_stream_mapping(m.uuid, m.doc(), checkpoints)
        self.by_uuid[m.uuid] = m
        self._run(m)
        return self.describe(m, "Creating")

    async def update(self, params: UpdateEventSourceMappingRequestTypeDef, region: str) -> dict[str, Any]:
        m = self.by_uuid[params["UUID"]]
        new = StreamMapping(**json.loads(m.doc()))  # changed on a copy: the running mapping once stored
        if params.get("FunctionName"):
            named, new.qualifier = self.registry.get(params["FunctionName"], region)
            new.function = named.name
        fn = self.registry.functions.get(new.function)
        if fn is None:
            raise not_found(f"Function not found: {self.registry.arn(new.function)}")
        self._apply(new, params, fn)
        if params.get("FunctionName"):
            self._role_may_read(new, "UpdateEventSourceMapping")
        new.last_modified = self.clock.now()
        await self.store.put_stream_mapping(new.uuid, new.doc())
        await self._halt(m.uuid, graceful=True)
        self.by_uuid[m.uuid] = new
        self._run(new)
        return self.describe(new, "Updating")

    async def delete(self, ident: str) -> dict[str, Any]:
        m = self.by_uuid[ident]
        out = self.describe(m, "Deleting")
        await self.store.delete_stream_mapping(ident)
        self.by_uuid.pop(ident, None)
        await self._halt(ident, graceful=True)
        return out

    async def function_deleted(self, name: str) -> None:
        for m in list(self.by_uuid.values()):
            if m.function == name:
                await self._halt(m.uuid, graceful=True)

    # -- settings --------------------------------------------------------------------------------------
    def _streams(self, source: str) -> Streams:
        port = self._port(source)
        if port is None:
            raise invalid(f"Conveyor is running without its {_source_name(source)} service.")
        return port

    def _port(self, source: str) -> Streams | None:
        return self.ports.table_streams if is_table_stream(source) else self.ports.streams

    def _apply(self, m: StreamMapping, params: abc.Mapping[str, Any], fn: Function) -> None:
        if "FilterCriteria" in params:
            m.filters = stream_filters.checked(params["FilterCriteria"] or {})
        if "MetricsConfig" in params:
            m.metrics = mapping_metrics.checked(params["MetricsConfig"])
        for key in _UNSUPPORTED:
            if params.get(key) not in (None, [], {}):
                raise invalid(f"{key} is not supported by Conveyor for {_source_name(m.source_arn)} event sources.")
        if params.get("TumblingWindowInSeconds"):
            raise invalid("TumblingWindowInSeconds is not supported by Conveyor for "
                          f"{_source_name(m.source_arn)} event sources.")
        m.batch_size = _ranged(params, "BatchSize", m.batch_size, 1, 10000)
        m.window = _ranged(params, "MaximumBatchingWindowInSeconds", m.window, 0, 300)
        m.parallelization = _ranged(params, "ParallelizationFactor", m.parallelization, 1, 10)
        m.max_retries = _ranged(params, "MaximumRetryAttempts", m.max_retries, -1, 10000)
        m.max_age = _ranged(params, "MaximumRecordAgeInSeconds", m.max_age, -1, 604800)
        if 0 <= m.max_age < 60:
            raise invalid("MaximumRecordAgeInSeconds must be -1 (no limit) or between 60 and 604800.")
        if "BisectBatchOnFunctionError" in params:
            m.bisect = bool(params["BisectBatchOnFunctionError"])
        types = params.get("FunctionResponseTypes", m.response_types) or []
        if any(t != "ReportBatchItemFailures" for t in types):
            raise invalid("FunctionResponseTypes may only contain ReportBatchItemFailures.")
        m.response_types = list(types)
        destinations = params.get("DestinationConfig")
        if destinations is not None:
            if (destinations.get("OnSuccess") or {}).get("Destination"):
                raise invalid(f"{_source_name(m.source_arn)} event source mappings support only an OnFailure "
                              "destination.")
            target = (destinations.get("OnFailure") or {}).get("Destination")
            if target and target.split(":")[2:3] not in (["sqs"], ["sns"]):
                raise invalid(f"The destination ARN {target} is not supported by Conveyor (use an SQS queue or an "
                              "SNS topic).")
            m.on_failure = target or None
        if "Enabled" in params:
            m.enabled = bool(params["Enabled"])
        fn.resolve(m.qualifier)  # the qualifier exists

    def _role_may_read(self, m: StreamMapping, operation: str) -> None:
        refused = poller_access.refusal(self.ports, self.registry, m.function, m.qualifier, m.source_arn,
                                        poller_access.DYNAMODB_ACTIONS if is_table_stream(m.source_arn)
                                        else poller_access.KINESIS_ACTIONS, f"lambda.{operation}")
        if refused is not None:
            raise poller_access.create_refused(m.source_arn, refused)

    # -- running ---------------------------------------------------------------------------------------
    def _run(self, m: StreamMapping) -> None:
        port = self._port(m.source_arn)
        if not m.enabled or m.function not in self.registry.functions or port is None:
            return
        settings = Settings(m.uuid, m.function, m.qualifier, m.source_arn, m.bisect, m.max_retries, m.max_age,
                            m.on_failure, "ReportBatchItemFailures" in m.response_types,
                            [stream_filters.parsed(p) for p in m.filters], list(m.metrics))
        box: list[Running] = []

        def note(ok: bool) -> None:
            box[0].batches += 1
            box[0].failed += 0 if ok else 1
            self.results[m.uuid] = "OK" if ok else "PROBLEM: Function call failed"

        def delivery(stopped: Any) -> Delivery:
            return Delivery(settings, self.registry, self.invoker, self.ports, self.clock, note, stopped)

        def may(action: str) -> bool:
            """Whether the execution role may make the poller's next call; if not, the mapping says why."""
            if is_table_stream(m.source_arn):  # the pollers name Kinesis' calls; DynamoDB Streams' are these
                action = _DYNAMODB_CALLS.get(action, action)
            refused = poller_access.refusal(self.ports, self.registry, m.function, m.qualifier, m.source_arn,
                                            (action,), f"lambda event source mapping {m.uuid}")
            if refused is not None:
                self.results[m.uuid] = poller_access.problem(refused)
            return refused is None

        run = Running(Pollers(m, port, self.store, self.clock, delivery, may))
        box.append(run)
        self.running[m.uuid] = run
        run.pollers.start()

    async def _halt(self, ident: str, graceful: bool) -> None:
        run = self.running.pop(ident, None)
        if run is not None:
            await run.pollers.stop(graceful)


def _ranged(params: abc.Mapping[str, Any], key: str, current: int, low: int, high: int) -> int:
    value = params.get(key, current)
    if value is None:
        return current
    if not low <= value <= high:
        raise invalid(f"{key} must be between {low} and {high}.")
    return int(value)
