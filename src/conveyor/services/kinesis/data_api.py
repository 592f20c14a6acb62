"""Kinesis's data operations: PutRecord, PutRecords, GetShardIterator, GetRecords."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conveyor.services.kinesis import errors, reading, records
from conveyor.services.kinesis.iterators import Position, decode
from conveyor.services.kinesis.lookup import Directory
from conveyor.wire import RequestContext

if TYPE_CHECKING:
    from mypy_boto3_kinesis.type_defs import (
        GetRecordsInputTypeDef,
        GetShardIteratorInputTypeDef,
        PutRecordInputTypeDef,
        PutRecordsInputTypeDef,
    )

Out = dict[str, Any]
DEFAULT_GET_LIMIT = 10_000


class DataOperations:
    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    async def PutRecord(self, ctx: RequestContext, params: PutRecordInputTypeDef) -> Out:
        stream = self.directory.find(ctx.region, params)
        entry = records.Entry(_partition_key(params.get("PartitionKey"), "PartitionKey"), _blob(params["Data"]),
                              params.get("ExplicitHashKey"))
        records.check_sizes(stream, [entry], batch=False)
        # SequenceNumberForOrdering asks for a sequence number above the one given for the same key: every
        # record here gets a higher counter than all before it, so the ordering holds without it.
        (placed,) = await records.put(self.directory.catalog, stream, [entry], self.directory.now_ms(),
                                      self.directory.account)
        return {"ShardId": placed.shard.shard_id, "SequenceNumber": stream.sequence_number(placed.shard, placed.counter),
                "EncryptionType": "NONE"}

    async def PutRecords(self, ctx: RequestContext, params: PutRecordsInputTypeDef) -> Out:
        stream = self.directory.find(ctx.region, params)
        entries = [records.Entry(_partition_key(r.get("PartitionKey"), f"Records.{i}.PartitionKey"),
                                 _blob(r["Data"]), r.get("ExplicitHashKey"))
                   for i, r in enumerate(params["Records"], 1)]
        records.check_sizes(stream, entries, batch=True)
        placed = await records.put(self.directory.catalog, stream, entries, self.directory.now_ms(),
                                   self.directory.account)
        return {"FailedRecordCount": 0, "EncryptionType": "NONE",
                "Records": [{"SequenceNumber": stream.sequence_number(p.shard, p.counter), "ShardId": p.shard.shard_id}
                            for p in placed]}

    async def GetShardIterator(self, ctx: RequestContext, params: GetShardIteratorInputTypeDef) -> Out:
        stream = self.directory.find(ctx.region, params)
        shard = stream.shard(params["ShardId"], self.directory.account)
        after = reading.start_after(self.directory.catalog, stream, shard, params["ShardIteratorType"],
                                    params.get("StartingSequenceNumber"), params.get("Timestamp"))  # type: ignore[arg-type]
        iterator = Position(stream.id, stream.created, shard.row, after, self.directory.now_ms())
        return {"ShardIterator": iterator.encode()}

    async def GetRecords(self, ctx: RequestContext, params: GetRecordsInputTypeDef) -> Out:
        now = self.directory.now_ms()
        position = decode(params["ShardIterator"], now)
        stream = next((s for s in self.directory.catalog.streams.values() if s.id == position.stream_id), None)
        if stream is None or stream.created != position.stream_created:
            raise errors.invalid("Invalid ShardIterator: its stream no longer exists.")
        arn = params.get("StreamARN")
        if arn and arn != stream.arn(self.directory.account):
            raise errors.invalid(f"The ShardIterator is not for stream {arn}.")
        return reading.get_records(self.directory.catalog, stream, position,
                                   params.get("Limit") or DEFAULT_GET_LIMIT, now)


def _blob(value: object) -> bytes:
    """The codecs hand blobs over as bytes (the stubs also allow what boto3 accepts on the client side)."""
    return value if isinstance(value, bytes) else str(value).encode()


def _partition_key(key: str | None, where: str) -> str:
    """Newer models make PartitionKey optional, for streams whose record distribution is not by the user's
    key; every stream here distributes by it (USER_PARTITION_KEY, the default), which needs one per record:
    https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecordsRequestEntry.html"""
    if key is None:
        raise errors.VALIDATION.missing_error(where)
    return key
