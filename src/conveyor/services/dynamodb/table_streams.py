"""DynamoDB Streams as Lambda's stream event source mappings read them: the Streams port (conveyor.ports).

A table's stream has one shard (conveyor.services.dynamodb.streams_api), open while the stream is enabled;
a position is a record's sequence number (21 digits), "0" before the first. A record's data is the JSON
of the record as Lambda's DynamoDB event carries it; its partition key is the item's key, so that records
of one item stay in order across a mapping's parallel lanes.
https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html
"""

from __future__ import annotations

import asyncio
import json

from conveyor.ports import ShardRead, StreamRecord, StreamShard
from conveyor.services.dynamodb import errors
from conveyor.services.dynamodb.backend import Backend
from conveyor.services.dynamodb.stream_records import RETENTION, event_record, sequence_number
from conveyor.services.dynamodb.streams_api import shard_id
from conveyor.services.dynamodb.tables import Table


class TableStreamReader:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._changes: dict[int, asyncio.Event] = {}  # by table id: set at the stream's next record

    def grown(self, table_ids: set[int]) -> None:
        """The store committed records to these tables' streams: their readers wake."""
        for ident in table_ids:
            event = self._changes.pop(ident, None)
            if event is not None:
                event.set()

    def _table(self, arn: str) -> Table | None:
        if not self.backend.running or arn.count(":") < 5:
            return None
        region, account = arn.split(":")[3], self.backend.account
        return next((t for t in self.backend.catalog.in_region(region)
                     if t.stream_label and t.stream_arn(account) == arn), None)

    def shards(self, arn: str) -> list[StreamShard] | None:
        table = self._table(arn)
        if table is None:
            return None
        return [StreamShard(shard_id(table), (), not table.stream_enabled)]

    def position(self, arn: str, shard_id: str, kind: str, timestamp: float | None = None) -> str:
        # LATEST: past every record written so far (the counter is server-wide, so the last one handed out).
        return sequence_number(self.backend.catalog.seq if kind == "LATEST" else 0)

    def read(self, arn: str, shard: str, after: str, limit: int) -> ShardRead:
        table = self._table(arn)
        if table is None:
            raise errors.not_found(f"Requested resource not found: Stream: {arn} not found")
        if shard != shard_id(table):
            raise errors.not_found(f"Requested resource not found: Shard: {shard} in Stream: {arn} not found")
        rows = self.backend.store.stream_records(table.id, table.stream_label, int(after),
                                                 self.backend.now() - RETENTION, limit)
        records = []
        for seq, at, text in rows:
            event = event_record(table.region, seq, at, text)
            key = json.dumps(event["dynamodb"]["Keys"], sort_keys=True)
            records.append(StreamRecord(sequence_number(seq), key, json.dumps(event).encode(), at))
        position = records[-1].sequence_number if records else after
        return ShardRead(records, position, not table.stream_enabled and len(rows) < limit)

    def changed(self, arn: str) -> asyncio.Event | None:
        table = self._table(arn)
        if table is None:
            return None
        return self._changes.setdefault(table.id, asyncio.Event())
