"""Kinesis Data Streams (JSON 1.1, and CBOR for the SDKs that send it): streams, shards, records.

    streams        the streams and shards in memory (conveyor.services.kinesis.streams), over the store
    records        PutRecord(s): routing by hash key, durable before acknowledged
    reading        shard iterators and GetRecords
    resharding     SplitShard, MergeShards, UpdateShardCount
    data_api, shard_api, tag_api   the operations, found through `operation_groups`

Streams go ACTIVE at once (AWS takes seconds in CREATING; clients that wait for ACTIVE see it at their
first DescribeStream). Retention trims records on the server's clock, hourly and when it is decreased;
reads never return a record past it. Lambda's stream mappings read through the Streams port.
Throughput limits per shard (1 MiB/s or 1,000 records/s in, 2 MiB/s out) are not enforced.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from conveyor.authz import Denial, Need
from conveyor.clock import TimerHandle
from conveyor.ports import Ports, ShardRead, StreamRecord, StreamShard
from conveyor.protocol.base import Codec
from conveyor.protocol.registry import codecs_for
from conveyor.services.base import Environment, Service
from conveyor.services.kinesis import errors, iam, reading
from conveyor.services.kinesis.codec import CBOR_CONTENT_TYPE, AwsCborCodec
from conveyor.services.kinesis.data_api import DataOperations
from conveyor.services.kinesis.lookup import Directory, parse_arn
from conveyor.services.kinesis.policy_api import PolicyOperations
from conveyor.services.kinesis.shard_api import ShardOperations, shard_limit_left
from conveyor.services.kinesis.store import KinesisStore
from conveyor.services.kinesis.streams import (
    DEFAULT_MAX_RECORD_KIB,
    DEFAULT_RETENTION,
    MAX_RETENTION,
    ON_DEMAND_SHARDS,
    Catalog,
    Shard,
    Stream,
    even_ranges,
    shard_name,
    shard_row,
)
from conveyor.services.kinesis.tag_api import TagOperations, check_new_tags
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from botocore.model import OperationModel
    from mypy_boto3_kinesis.type_defs import (
        CreateStreamInputTypeDef,
        DecreaseStreamRetentionPeriodInputTypeDef,
        DeleteStreamInputTypeDef,
        DescribeStreamInputTypeDef,
        DescribeStreamSummaryInputTypeDef,
        IncreaseStreamRetentionPeriodInputTypeDef,
        ListStreamsInputTypeDef,
        UpdateMaxRecordSizeInputTypeDef,
        UpdateStreamModeInputTypeDef,
    )

Out = dict[str, Any]
SWEEP_EVERY = 3600.0
DESCRIBE_LIMIT = 100  # DescribeStream's default Limit
LIST_LIMIT = 100  # ListStreams' default Limit
ON_DEMAND_STREAM_LIMIT = 50  # https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html


class KinesisService(Service):
    name = "kinesis"
    validation_codes = errors.VALIDATION
    # Another account's caller: a stream's own policy (PutResourcePolicy) decides, for what Kinesis serves
    # across accounts; a stream it names by name (or by an ARN of its own account) is one of its own account,
    # which has none here; it creates none (Conveyor holds one account).
    other_accounts_by_resource_policy = True
    other_account_may = iam.CROSS_ACCOUNT
    other_account_names = (("StreamName", lambda ctx, name: errors.stream_not_found(name, iam.caller_account(ctx))),
                           ("StreamARN", lambda ctx, arn: errors.stream_not_found(
                               arn.rpartition("/")[2], iam.caller_account(ctx))),
                           ("ResourceARN", lambda ctx, arn: errors.stream_not_found(
                               arn.rpartition("/")[2], iam.caller_account(ctx))))
    other_account_creates = frozenset({"CreateStream"})

    @functools.cached_property
    def codecs(self) -> dict[str, Codec]:
        return {**codecs_for(self.model), "cbor": AwsCborCodec(self.model)}

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        self.directory = Directory(self.clock, self.config.account_id)
        self.store: KinesisStore | None = None
        self._sweep: TimerHandle | None = None
        self.operation_groups = (DataOperations(self.directory), ShardOperations(self.directory),
                                 TagOperations(self.directory), PolicyOperations(self.directory))

    def protocol_for(self, ctx: RequestContext) -> str:
        # The AWS SDK for Java sends Kinesis CBOR under its JSON target header.
        if (ctx.request.headers.get("content-type") or "").startswith(CBOR_CONTENT_TYPE):
            return "cbor"
        return super().protocol_for(ctx)

    def provide(self, ports: Ports) -> None:
        ports.streams = self
        ports.policy_holders["kinesis"] = self

    # -- conveyor.ports.PolicyHolder: the streams' policies, for the enforcer --------------------------
    def resource_exists(self, arn: str) -> bool:
        return self.store is not None and self.directory.by_arn(arn) is not None

    def resource_policy(self, arn: str) -> str | None:
        stream = self.directory.by_arn(arn) if self.store is not None else None
        if stream is None or stream.arn(self.config.account_id) != arn:
            return None
        return stream.policy

    def answer_for_other_account(self, ctx: RequestContext, operation: OperationModel,
                                 params: dict[str, Any]) -> dict[str, Any] | None:
        """ListStreams lists the caller's own account's streams: none here."""
        return {"StreamNames": [], "HasMoreStreams": False, "StreamSummaries": []} if (
            operation.name == "ListStreams") else None

    def iam_requests(self, ctx: RequestContext, operation: OperationModel, params: dict[str, Any]) -> list[Need]:
        return iam.needs(ctx, self.directory, operation.name, params)

    def access_denied(self, ctx: RequestContext, denial: Denial) -> ServiceError:
        return iam.access_denied(denial)

    # -- lifecycle -------------------------------------------------------------------------------------
    async def start(self) -> None:
        self.store = KinesisStore(self.config.service_dir("kinesis") / "kinesis.db", self.env.disk)
        catalog = Catalog(self.store)
        catalog.load()
        self.directory.catalog = catalog
        self._schedule_sweep()

    async def stop(self) -> None:
        if self._sweep is not None:
            self._sweep.cancel()
        if self.store is not None:
            self.store.close()
            self.store = None
        self.directory.catalog = None

    async def reset(self) -> None:
        catalog = self.directory.catalog
        async with catalog.mutex:
            await catalog.store.wipe()
            for stream in catalog.streams.values():
                stream.signal()  # readers of the wiped streams wake and find them gone
            catalog.clear()
        self._schedule_sweep()

    def health(self) -> dict[str, Any]:
        running = self.store is not None
        return {"status": "running" if running else "stopped",
                "streams": len(self.directory.catalog.streams) if running else 0}

    def status(self) -> dict[str, Any]:
        if self.store is None:
            return {}
        account = self.config.account_id
        return {"streams": [{"name": s.name, "region": s.region, "arn": s.arn(account), "mode": s.mode,
                             "open_shards": len(s.open_shards()), "retention_hours": s.retention_hours}
                            for s in self.directory.catalog.streams.values()]}

    # -- retention -------------------------------------------------------------------------------------
    def _schedule_sweep(self) -> None:
        if self._sweep is not None:
            self._sweep.cancel()
        self._sweep = self.clock.call_at(self.clock.now() + SWEEP_EVERY, self._sweep_due)

    def _sweep_due(self) -> None:
        from conveyor.background import spawn

        spawn(self.expire(list(self.directory.catalog.streams.values())))
        self._schedule_sweep()

    async def expire(self, streams: list[Stream]) -> None:
        """Delete the records past each stream's retention, and the closed shards whose records all are."""
        if not streams:
            return
        catalog = self.directory.catalog
        now = self.directory.now_ms()
        cutoffs = [(s.id, now - s.retention_hours * 3600_000) for s in streams]
        gone = [(stream, shard) for stream, cutoff in zip(streams, cutoffs, strict=True)
                for shard in stream.shards.values() if shard.closed is not None and shard.closed < cutoff[1]]
        await catalog.store.expire(cutoffs, [shard.row for _, shard in gone], catalog.counter)
        for stream, shard in gone:
            stream.shards.pop(shard.shard_id, None)

    # -- helpers ---------------------------------------------------------------------------------------
    def _find(self, ctx: RequestContext, params: Any) -> Stream:
        return self.directory.find(ctx.region, params)

    def _open_shard_count(self, region: str) -> int:
        return sum(len(s.open_shards()) for s in self.directory.catalog.in_region(region))

    # -- streams ---------------------------------------------------------------------------------------
    async def CreateStream(self, ctx: RequestContext, params: CreateStreamInputTypeDef) -> Out:
        catalog, account = self.directory.catalog, self.config.account_id
        details = params.get("StreamModeDetails")
        mode = details["StreamMode"] if details else "PROVISIONED"
        count = params.get("ShardCount")
        if mode == "PROVISIONED" and count is None:
            # https://docs.aws.amazon.com/kinesis/latest/APIReference/API_CreateStream.html
            raise errors.invalid("ShardCount must be specified for a stream in PROVISIONED mode.")
        if mode == "ON_DEMAND":
            if count is not None:
                raise errors.validation("ShardCount is not supported for a stream in ON_DEMAND mode.")
            on_demand = sum(1 for s in catalog.in_region(ctx.region) if s.mode == "ON_DEMAND")
            if on_demand >= ON_DEMAND_STREAM_LIMIT:
                raise errors.limit_exceeded(f"This request would exceed the on-demand stream limit of "
                                            f"{ON_DEMAND_STREAM_LIMIT} for the account {account} in {ctx.region}.")
            count = ON_DEMAND_SHARDS
        assert count is not None
        if count > shard_limit_left(self.directory, ctx.region):
            raise errors.limit_exceeded(f"This request would exceed the shard limit for the account {account} in "
                                        f"{ctx.region}. Current limit of shards is "
                                        f"{shard_limit_left(self.directory, ctx.region, total=True)}.")
        if params.get("WarmThroughputMiBps"):
            raise errors.invalid("Conveyor does not serve warm throughput: leave out WarmThroughputMiBps.")
        tags = dict(params.get("Tags") or {})
        check_new_tags({}, tags)
        now = self.directory.now_ms()
        async with catalog.mutex:
            if (ctx.region, params["StreamName"]) in catalog.streams:
                raise errors.stream_exists(params["StreamName"], account)
            stream = Stream(catalog.next_stream_id(), ctx.region, params["StreamName"], now, mode, DEFAULT_RETENTION,
                            params.get("MaxRecordSizeInKiB") or DEFAULT_MAX_RECORD_KIB, tags, count)
            shards = [Shard(catalog.next_shard_row(), shard_name(i), low, high, catalog.counter + 1, now)
                      for i, (low, high) in enumerate(even_ranges(count))]
            await catalog.store.create_stream(stream.row(), [shard_row(stream, s) for s in shards])
            for shard in shards:
                stream.add_shard(shard)
            catalog.streams[(ctx.region, stream.name)] = stream
        return {}

    async def DeleteStream(self, ctx: RequestContext, params: DeleteStreamInputTypeDef) -> Out:
        catalog = self.directory.catalog
        stream = self._find(ctx, params)
        async with catalog.mutex:
            await catalog.store.delete_stream(stream.id)
            catalog.streams.pop((stream.region, stream.name), None)
        stream.signal()
        return {}

    def _summary(self, stream: Stream) -> Out:
        return {"StreamName": stream.name, "StreamARN": stream.arn(self.config.account_id), "StreamStatus": "ACTIVE",
                "StreamModeDetails": stream.mode_details(), "RetentionPeriodHours": stream.retention_hours,
                "StreamCreationTimestamp": stream.created / 1000, "EnhancedMonitoring": [{"ShardLevelMetrics": []}],
                "EncryptionType": "NONE"}

    async def DescribeStream(self, ctx: RequestContext, params: DescribeStreamInputTypeDef) -> Out:
        stream = self._find(ctx, params)
        shards = list(stream.live_shards(self.directory.now_ms()))
        start = params.get("ExclusiveStartShardId")
        if start:
            shards = [s for s in shards if s.shard_id > start]
        limit = params.get("Limit") or DESCRIBE_LIMIT
        page = shards[:limit]
        description = self._summary(stream)
        description.update(Shards=[stream.describe_shard(s) for s in page], HasMoreShards=len(shards) > limit)
        return {"StreamDescription": description}

    async def DescribeStreamSummary(self, ctx: RequestContext, params: DescribeStreamSummaryInputTypeDef) -> Out:
        stream = self._find(ctx, params)
        summary = self._summary(stream)
        summary.update(OpenShardCount=len(stream.open_shards()), ConsumerCount=0,
                       MaxRecordSizeInKiB=stream.max_record_kib)
        return {"StreamDescriptionSummary": summary}

    async def ListStreams(self, ctx: RequestContext, params: ListStreamsInputTypeDef) -> Out:
        streams = self.directory.catalog.in_region(ctx.region)
        token = params.get("NextToken")
        if token and params.get("ExclusiveStartStreamName"):
            raise errors.invalid("NextToken and ExclusiveStartStreamName cannot be provided together.")
        after = token or params.get("ExclusiveStartStreamName")
        if after:
            streams = [s for s in streams if s.name > after]
        limit = params.get("Limit") or LIST_LIMIT
        page = streams[:limit]
        out: Out = {"StreamNames": [s.name for s in page], "HasMoreStreams": len(streams) > limit,
                    "StreamSummaries": [{"StreamName": s.name, "StreamARN": s.arn(self.config.account_id),
                                         "StreamStatus": "ACTIVE", "StreamModeDetails": s.mode_details(),
                                         "StreamCreationTimestamp": s.created / 1000} for s in page]}
        if len(streams) > limit:
            out["NextToken"] = page[-1].name
        return out

    async def DescribeLimits(self, ctx: RequestContext, params: dict[str, Any]) -> Out:
        streams = self.directory.catalog.in_region(ctx.region)
        return {"ShardLimit": shard_limit_left(self.directory, ctx.region, total=True),
                "OpenShardCount": self._open_shard_count(ctx.region),
                "OnDemandStreamCount": sum(1 for s in streams if s.mode == "ON_DEMAND"),
                "OnDemandStreamCountLimit": ON_DEMAND_STREAM_LIMIT}

    # -- settings --------------------------------------------------------------------------------------
    async def IncreaseStreamRetentionPeriod(self, ctx: RequestContext,
                                            params: IncreaseStreamRetentionPeriodInputTypeDef) -> Out:
        stream = self._find(ctx, params)
        hours = params["RetentionPeriodHours"]
        _check_retention(hours)
        if hours < stream.retention_hours:
            raise errors.invalid(f"Requested retention period ({hours} hours) for stream {stream.name} can not be "
                                 f"shorter than existing retention period ({stream.retention_hours} hours). Use "
                                 "DecreaseRetentionPeriod API.")
        await self.directory.catalog.store.set_stream(stream.id, "retention_hours", hours)
        stream.retention_hours = hours
        return {}

    async def DecreaseStreamRetentionPeriod(self, ctx: RequestContext,
                                            params: DecreaseStreamRetentionPeriodInputTypeDef) -> Out:
        stream = self._find(ctx, params)
        hours = params["RetentionPeriodHours"]
        _check_retention(hours)
        if hours > stream.retention_hours:
            raise errors.invalid(f"Requested retention period ({hours} hours) for stream {stream.name} can not be "
                                 f"longer than existing retention period ({stream.retention_hours} hours). Use "
                                 "IncreaseRetentionPeriod API.")
        await self.directory.catalog.store.set_stream(stream.id, "retention_hours", hours)
        stream.retention_hours = hours
        await self.expire([stream])
        return {}

    async def UpdateStreamMode(self, ctx: RequestContext, params: UpdateStreamModeInputTypeDef) -> Out:
        stream = self._find(ctx, {"StreamARN": params["StreamARN"]})
        mode = params["StreamModeDetails"]["StreamMode"]
        if mode == stream.mode:
            raise errors.resource_in_use(f"Stream {stream.name} under account {self.config.account_id} is already "
                                         f"in {mode} mode.")
        await self.directory.catalog.store.set_stream(stream.id, "mode", mode)
        stream.mode = mode
        return {}

    async def UpdateMaxRecordSize(self, ctx: RequestContext, params: UpdateMaxRecordSizeInputTypeDef) -> Out:
        stream = self._find(ctx, {"StreamARN": params["StreamARN"]})
        size = params["MaxRecordSizeInKiB"]
        await self.directory.catalog.store.set_stream(stream.id, "max_record_kib", size)
        stream.max_record_kib = size
        return {}

    # -- conveyor.ports.Streams: Lambda's stream mappings ------------------------------------------------
    def _stream_shard(self, arn: str, shard_id: str) -> tuple[Stream, Shard]:
        stream = self.directory.by_arn(arn)
        if stream is None:
            _, name = parse_arn(arn)
            raise errors.stream_not_found(name, self.config.account_id)
        return stream, stream.shard(shard_id, self.config.account_id)

    def shards(self, arn: str) -> list[StreamShard] | None:
        stream = self.directory.by_arn(arn) if self.store is not None else None
        if stream is None:
            return None
        return [StreamShard(s.shard_id, s.parents(), not s.is_open)
                for s in stream.live_shards(self.directory.now_ms())]

    def position(self, arn: str, shard_id: str, kind: str, timestamp: float | None = None) -> str:
        import datetime as dt

        stream, shard = self._stream_shard(arn, shard_id)
        when = dt.datetime.fromtimestamp(timestamp, dt.UTC) if timestamp is not None else None
        after = reading.start_after(self.directory.catalog, stream, shard, kind, None, when)
        return stream.sequence_number(shard, after)

    def read(self, arn: str, shard_id: str, after: str, limit: int) -> ShardRead:
        stream, shard = self._stream_shard(arn, shard_id)
        start = stream.parse_sequence(after, shard)
        rows = reading.read(self.directory.catalog, shard, start, limit, self.directory.now_ms(),
                            stream.retention_hours)
        at = rows[-1].seq if rows else start
        records = [StreamRecord(stream.sequence_number(shard, r.seq), r.partition_key, r.data, r.arrival / 1000)
                   for r in rows]
        return ShardRead(records, stream.sequence_number(shard, at), reading.ended(shard, at))

    def changed(self, arn: str) -> Any:
        stream = self.directory.by_arn(arn) if self.store is not None else None
        return stream.changed if stream is not None else None


def _check_retention(hours: int) -> None:
    # https://docs.aws.amazon.com/kinesis/latest/APIReference/API_IncreaseStreamRetentionPeriod.html
    if hours < DEFAULT_RETENTION:
        raise errors.invalid(f"Minimum allowed retention period is {DEFAULT_RETENTION} hours. Requested retention "
                             f"period ({hours} hours) is too short.")
    if hours > MAX_RETENTION:
        raise errors.invalid(f"Maximum allowed retention period is {MAX_RETENTION} hours. Requested retention "
                             f"period ({hours} hours) is too long.")
