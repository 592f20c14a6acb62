"""DynamoDB Streams (`DynamoDBStreams_20120810.*`, signed as `dynamodb`): ListStreams, DescribeStream,
GetShardIterator, GetRecords.

Each stream (a table's StreamSpecification, named by its label: the time it was enabled) has one shard,
open while the stream is enabled; records are kept 24 hours on the server's clock. Sequence numbers are a
server-wide counter, 21 digits, increasing within a shard. A shard iterator names the stream, the shard
and the position after which it reads; it is good for 15 minutes.
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html,
https://docs.aws.amazon.com/amazondynamodbstreams/latest/APIReference/Welcome.html
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from typing import TYPE_CHECKING, Any

from conveyor.services.dynamodb import errors
from conveyor.services.dynamodb.backend import Backend
from conveyor.services.dynamodb.stream_records import RETENTION, sequence_number, wire_record
from conveyor.services.dynamodb.tables import Table
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from mypy_boto3_dynamodbstreams.type_defs import (
        DescribeStreamInputTypeDef,
        GetRecordsInputTypeDef,
        GetShardIteratorInputTypeDef,
        ListStreamsInputTypeDef,
    )

Out = dict[str, Any]
ITERATOR_SECONDS = 15 * 60
MAX_RECORDS = 1000


def shard_id(table: Table) -> str:
    digest = hashlib.sha256(f"{table.id}:{table.stream_label}".encode()).hexdigest()[:8]
    when = dt.datetime.strptime(table.stream_label, "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=dt.UTC)
    return f"shardId-{int(when.timestamp() * 1000):020d}-{digest}"


def _iterator(table: Table, after: int, now: float) -> str:
    raw = json.dumps({"t": table.id, "l": table.stream_label, "a": after, "i": now})
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _invalid_iterator() -> ServiceError:
    return errors.validation("Invalid ShardIterator")


class StreamOperations:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def _by_arn(self, ctx: RequestContext, arn: str) -> Table:
        for table in self.backend.catalog.in_region(ctx.region):
            if table.stream_label and table.stream_arn(self.backend.account) == arn:
                return table
        raise errors.not_found(f"Requested resource not found: Stream: {arn} not found")

    async def ListStreams(self, ctx: RequestContext, params: ListStreamsInputTypeDef) -> Out:
        account = self.backend.account
        tables = [t for t in self.backend.catalog.in_region(ctx.region) if t.stream_label]
        if params.get("TableName"):
            tables = [t for t in tables if t.name == params["TableName"]]
        streams = [{"StreamArn": t.stream_arn(account), "TableName": t.name, "StreamLabel": t.stream_label}
                   for t in tables]
        start = params.get("ExclusiveStartStreamArn")
        if start:
            arns = [s["StreamArn"] for s in streams]
            streams = streams[arns.index(start) + 1:] if start in arns else streams
        limit = params.get("Limit") or 100
        out: Out = {"Streams": streams[:limit]}
        if len(streams) > limit:
            out["LastEvaluatedStreamArn"] = streams[limit - 1]["StreamArn"]
        return out

    async def DescribeStream(self, ctx: RequestContext, params: DescribeStreamInputTypeDef) -> Out:
        table = self._by_arn(ctx, params["StreamArn"])
        store = self.backend.store
        bounds = store.stream_bounds(table.id, table.stream_label, self.backend.now() - RETENTION)
        numbers: Out = {"StartingSequenceNumber": sequence_number(bounds[0] if bounds else self.backend.catalog.seq + 1)}
        if not table.stream_enabled:
            numbers["EndingSequenceNumber"] = sequence_number(bounds[1] if bounds else self.backend.catalog.seq)
        when = dt.datetime.strptime(table.stream_label, "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=dt.UTC)
        return {"StreamDescription": {
            "StreamArn": table.stream_arn(self.backend.account), "StreamLabel": table.stream_label,
            "StreamStatus": "ENABLED" if table.stream_enabled else "DISABLED",
            "StreamViewType": table.stream_view_type, "CreationRequestDateTime": when, "TableName": table.name,
            "KeySchema": table.key_schema(),
            "Shards": [{"ShardId": shard_id(table), "SequenceNumberRange": numbers}]}}

    async def GetShardIterator(self, ctx: RequestContext, params: GetShardIteratorInputTypeDef) -> Out:
        table = self._by_arn(ctx, params["StreamArn"])
        if params["ShardId"] != shard_id(table):
            raise errors.not_found(f"Requested resource not found: Shard: {params['ShardId']} in Stream: "
                                   f"{params['StreamArn']} not found")
        kind = params["ShardIteratorType"]
        number = params.get("SequenceNumber")
        if kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
            if number is None or not number.isdigit():
                raise errors.validation("A SequenceNumber must be given with AT_SEQUENCE_NUMBER or "
                                        "AFTER_SEQUENCE_NUMBER" if number is None else
                                        f"Invalid SequenceNumber: {number}")
            after = int(number) - (1 if kind == "AT_SEQUENCE_NUMBER" else 0)
        elif kind == "LATEST":
            after = self.backend.catalog.seq
        else:  # TRIM_HORIZON: the oldest record kept
            after = 0
        return {"ShardIterator": _iterator(table, after, self.backend.now())}

    async def GetRecords(self, ctx: RequestContext, params: GetRecordsInputTypeDef) -> Out:
        try:
            state = json.loads(base64.urlsafe_b64decode(params["ShardIterator"].encode()))
            table_id, label, after, issued = int(state["t"]), str(state["l"]), int(state["a"]), float(state["i"])
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise _invalid_iterator() from None
        now = self.backend.now()
        if now - issued > ITERATOR_SECONDS:
            raise ServiceError("ExpiredIteratorException", "Iterator expired. The iterator was created at time "
                               f"{dt.datetime.fromtimestamp(issued, dt.UTC):%a %b %d %H:%M:%S UTC %Y} while right now "
                               f"it is {dt.datetime.fromtimestamp(now, dt.UTC):%a %b %d %H:%M:%S UTC %Y} which is "
                               f"further in the future than the tolerated delay of {ITERATOR_SECONDS * 1000} "
                               "milliseconds.")
        table = next((t for t in self.backend.catalog.in_region(ctx.region) if t.id == table_id), None)
        if table is None or table.stream_label != label:
            raise errors.not_found("Requested resource not found: Stream not found")
        limit = min(params.get("Limit") or MAX_RECORDS, MAX_RECORDS)
        rows = self.backend.store.stream_records(table_id, label, after, now - RETENTION, limit)
        records = [wire_record(table.region, seq, at, text) for seq, at, text in rows]
        last = rows[-1][0] if rows else after
        out: Out = {"Records": records}
        if table.stream_enabled or (rows and len(rows) == limit):
            out["NextShardIterator"] = _iterator(table, last, now)
        return out
