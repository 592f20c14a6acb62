"""GetShardIterator and GetRecords: reading a shard in sequence order, within the stream's retention.

https://docs.aws.amazon.com/kinesis/latest/APIReference/API_GetRecords.html: up to `Limit` records (10,000
at most) and 10 MiB; NextShardIterator is absent once a closed shard is read to its end, and ChildShards
then names where its keys went; MillisBehindLatest is zero once the reader is caught up.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from conveyor.services.kinesis import errors
from conveyor.services.kinesis.iterators import Position
from conveyor.services.kinesis.store import RecordRow
from conveyor.services.kinesis.streams import Catalog, Shard, Stream

MAX_RESPONSE_BYTES = 10 * 1024 * 1024
_CHUNK = 500


def start_after(catalog: Catalog, stream: Stream, shard: Shard, kind: str, sequence: str | None,
                timestamp: dt.datetime | None) -> int:
    """The counter a new iterator of `kind` reads after."""
    if kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
        if sequence is None:
            raise errors.invalid("Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and "
                                 "StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. "
                                 f"Request specified {kind} and no StartingSequenceNumber.")
        counter = stream.parse_sequence(sequence, shard)
        return counter - 1 if kind == "AT_SEQUENCE_NUMBER" else counter
    if sequence is not None:
        raise errors.invalid("Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and "
                             "StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. "
                             f"Request specified {kind} and also a StartingSequenceNumber.")
    if kind == "TRIM_HORIZON":
        return shard.start_seq - 1
    if kind == "LATEST":
        return tip(shard)
    if timestamp is None:  # AT_TIMESTAMP
        raise errors.invalid("Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. "
                             "Current request has no timestamp parameter.")
    first = catalog.store.first_at(shard.row, shard.start_seq - 1, int(timestamp.timestamp() * 1000))
    return tip(shard) if first is None else first - 1


def tip(shard: Shard) -> int:
    """The position past the shard's last record: where LATEST starts."""
    if shard.end_seq is not None:
        return shard.end_seq
    return max(shard.last_seq, shard.start_seq - 1)


def read(catalog: Catalog, shard: Shard, after: int, limit: int, now_ms: int, retention_hours: int) -> list[RecordRow]:
    """Up to `limit` records past `after` and about 10 MiB (the first record always)."""
    cutoff = now_ms - retention_hours * 3600_000
    out: list[RecordRow] = []
    size = 0
    while len(out) < limit:
        chunk = catalog.store.read(shard.row, after, cutoff, min(_CHUNK, limit - len(out)))
        for record in chunk:
            size += len(record.data) + len(record.partition_key)
            if out and size > MAX_RESPONSE_BYTES:
                return out
            out.append(record)
        if len(chunk) < min(_CHUNK, limit - len(out) + len(chunk)):
            break
        after = chunk[-1].seq
    return out


def ended(shard: Shard, position: int) -> bool:
    """Whether a reader at `position` has read a closed shard to its end."""
    return shard.end_seq is not None and position >= shard.last_seq


def children(stream: Stream, shard: Shard) -> list[dict[str, Any]]:
    return [{"ShardId": s.shard_id, "ParentShards": list(s.parents()),
             "HashKeyRange": {"StartingHashKey": str(s.start_hash), "EndingHashKey": str(s.end_hash)}}
            for s in stream.shards.values() if shard.shard_id in s.parents()]


def get_records(catalog: Catalog, stream: Stream, position: Position, limit: int, now_ms: int) -> dict[str, Any]:
    shard = next((s for s in stream.shards.values() if s.row == position.shard_row), None)
    if shard is None:
        raise errors.invalid("Invalid ShardIterator.")
    records = read(catalog, shard, position.after, limit, now_ms, stream.retention_hours)
    at = records[-1].seq if records else position.after
    out: dict[str, Any] = {
        "Records": [{"SequenceNumber": stream.sequence_number(shard, r.seq), "Data": r.data,
                     "PartitionKey": r.partition_key, "ApproximateArrivalTimestamp": r.arrival / 1000}
                    for r in records],
        # How far the reader is behind the shard's tip: the age of the last record returned while more wait.
        "MillisBehindLatest": max(0, now_ms - records[-1].arrival) if records and at < shard.last_seq else 0,
    }
    if ended(shard, at):
        out["ChildShards"] = children(stream, shard)
    else:
        out["NextShardIterator"] = Position(stream.id, stream.created, shard.row, at, now_ms).encode()
    return out
