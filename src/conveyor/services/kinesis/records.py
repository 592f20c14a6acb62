"""PutRecord and PutRecords: routing records to shards, their sizes, and storing them in one commit.

https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecords.html: up to 500 records, each up to
the stream's maximum record size (1 MiB unless UpdateMaxRecordSize raised it) counting its partition key,
5 MiB for the whole request. Records are acknowledged once durable; a reshard waits for the writes under
way before it closes a shard, so a closed shard never gains a record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from conveyor.services.kinesis import errors
from conveyor.services.kinesis.store import RecordRow
from conveyor.services.kinesis.streams import MAX_HASH, Catalog, Shard, Stream, hash_key

MAX_REQUEST_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class Entry:
    partition_key: str
    data: bytes
    explicit_hash_key: str | None = None


@dataclass(frozen=True)
class Placed:
    shard: Shard
    counter: int


def check_sizes(stream: Stream, entries: Sequence[Entry], batch: bool) -> None:
    limit = stream.max_record_kib * 1024
    total = 0
    for index, entry in enumerate(entries, 1):
        size = len(entry.data) + len(entry.partition_key.encode())
        total += size
        if size > limit:
            where = f"records.{index}.member.data" if batch else "data"
            raise errors.validation(f"1 validation error detected: Value at '{where}' failed to satisfy constraint: "
                                    f"Member must have length less than or equal to {limit}")
    if batch and total > max(MAX_REQUEST_BYTES, limit):
        raise errors.invalid(f"Records size exceeds {max(MAX_REQUEST_BYTES, limit) // (1024 * 1024)} MB limit")


def _key(entry: Entry) -> int:
    if entry.explicit_hash_key is None:
        return hash_key(entry.partition_key)
    key = int(entry.explicit_hash_key)
    if key > MAX_HASH:
        raise errors.invalid(f"Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. "
                             f"Specified value was {entry.explicit_hash_key}")
    return key


async def put(catalog: Catalog, stream: Stream, entries: Sequence[Entry], now_ms: int, account: str) -> list[Placed]:
    """Store the records; where each went. The stream's readers wake once they are durable."""
    keys = [_key(e) for e in entries]  # bad input is refused before anything is reserved
    while stream.resharding:
        await stream.reshard_done.wait()
    if catalog.streams.get((stream.region, stream.name)) is not stream:
        raise errors.stream_not_found(stream.name, account)  # deleted while this write waited
    stream.writes += 1
    stream.writes_done.clear()
    try:
        counters = catalog.reserve(len(entries))
        placed = [Placed(stream.shard_for(key), counter) for key, counter in zip(keys, counters, strict=True)]
        rows = [RecordRow(p.counter, p.shard.row, e.partition_key, e.data, now_ms)
                for p, e in zip(placed, entries, strict=True)]
        await catalog.store.append(rows)
        for p in placed:
            if p.counter > p.shard.last_seq:
                p.shard.last_seq, p.shard.last_arrival = p.counter, now_ms
        stream.signal()
        return placed
    finally:
        stream.writes -= 1
        if stream.writes == 0:
            stream.writes_done.set()
