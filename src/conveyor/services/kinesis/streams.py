"""Streams and their shards in memory (they are few), changed only after their write commits.

Hash keys: a record's partition key is hashed with MD5 into a 128-bit integer (or an explicit hash key
is given), and the open shard whose range holds it takes the record. A new stream's shards split the
range 0..2^128-1 evenly. https://docs.aws.amazon.com/streams/latest/dev/key-concepts.html

Sequence numbers are 56 digits, as AWS's: "49", ten digits of the stream's creation time, six of the
shard's index and 38 of the server-wide counter (conveyor.services.kinesis.store). Within a shard, and
from a parent to its children, they increase with time. A sequence number names its shard, so using one
with another shard is refused, as AWS refuses it.
"""

from __future__ import annotations

import asyncio
import bisect
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from conveyor.services.kinesis import errors
from conveyor.services.kinesis.store import KinesisStore, ShardRow, StreamRow

MAX_HASH = 2**128 - 1
DEFAULT_RETENTION = 24  # hours: https://docs.aws.amazon.com/streams/latest/dev/kinesis-extended-retention.html
MAX_RETENTION = 8760
ON_DEMAND_SHARDS = 4  # an on-demand stream starts with 4 shards (its 4 MB/s write capacity)
DEFAULT_MAX_RECORD_KIB = 1024


def hash_key(partition_key: str) -> int:
    return int.from_bytes(hashlib.md5(partition_key.encode()).digest(), "big")


def even_ranges(count: int, low: int = 0, high: int = MAX_HASH) -> list[tuple[int, int]]:
    """`count` adjacent hash key ranges covering low..high, as even as integers allow."""
    size = (high - low + 1) // count
    ranges = [(low + i * size, low + (i + 1) * size - 1) for i in range(count)]
    ranges[-1] = (ranges[-1][0], high)
    return ranges


def shard_name(index: int) -> str:
    return f"shardId-{index:012d}"


@dataclass(eq=False)  # one object per shard: compared by identity
class Shard:
    row: int
    shard_id: str
    start_hash: int
    end_hash: int
    start_seq: int  # the first counter its records may have
    created: int  # ms
    parent: str | None = None
    adjacent_parent: str | None = None
    end_seq: int | None = None  # once closed: no record of it has a higher counter
    closed: int | None = None  # ms
    last_seq: int = 0  # the highest committed record's counter (0: none)
    last_arrival: int = 0

    @property
    def index(self) -> int:
        return int(self.shard_id.rpartition("-")[2])

    @property
    def is_open(self) -> bool:
        return self.closed is None

    def parents(self) -> tuple[str, ...]:
        return tuple(p for p in (self.parent, self.adjacent_parent) if p)


@dataclass
class Stream:
    id: int
    region: str
    name: str
    created: int  # ms
    mode: str = "PROVISIONED"
    retention_hours: int = DEFAULT_RETENTION
    max_record_kib: int = DEFAULT_MAX_RECORD_KIB
    tags: dict[str, str] = field(default_factory=dict)
    next_shard: int = 0
    policy: str | None = None  # its resource-based policy (PutResourcePolicy)
    shards: dict[str, Shard] = field(default_factory=dict)  # in creation order
    # Writes under way, and whether a reshard waits for them to end (so that a shard closes only once
    # every record routed to it is stored).
    writes: int = 0
    resharding: bool = False
    writes_done: asyncio.Event = field(default_factory=asyncio.Event)
    reshard_done: asyncio.Event = field(default_factory=asyncio.Event)
    # Set (and replaced) whenever records are stored or shards change: readers parked on it wake.
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    _open: list[tuple[int, Shard]] = field(default_factory=list)

    def arn(self, account: str) -> str:
        return f"arn:aws:kinesis:{self.region}:{account}:stream/{self.name}"

    # -- shards ----------------------------------------------------------------------------------------
    def add_shard(self, shard: Shard) -> None:
        self.shards[shard.shard_id] = shard
        self._index_open()

    def close_shard(self, shard: Shard, end_seq: int, when: int) -> None:
        shard.end_seq, shard.closed = end_seq, when
        self._index_open()

    def _index_open(self) -> None:
        self._open = sorted(((s.start_hash, s) for s in self.shards.values() if s.is_open), key=lambda p: p[0])

    def open_shards(self) -> list[Shard]:
        return [s for _, s in self._open]

    def shard_for(self, key: int) -> Shard:
        """The open shard whose hash key range holds `key`."""
        at = bisect.bisect_right(self._open, key, key=lambda p: p[0]) - 1
        return self._open[max(at, 0)][1]

    def shard(self, shard_id: str, account: str) -> Shard:
        found = self.shards.get(shard_id)
        if found is None:
            raise errors.shard_not_found(shard_id, self.name, account)
        return found

    def live_shards(self, now_ms: int) -> Iterator[Shard]:
        """Shards still listed: open ones, and closed ones whose records may still be within retention."""
        cutoff = now_ms - self.retention_hours * 3600_000
        return (s for s in self.shards.values() if s.closed is None or s.closed >= cutoff)

    def signal(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()

    # -- sequence numbers ------------------------------------------------------------------------------
    def sequence_number(self, shard: Shard, counter: int) -> str:
        return f"49{(self.created // 1000) % 10**10:010d}{shard.index:06d}{counter:038d}"

    def parse_sequence(self, text: str, shard: Shard, what: str = "StartingSequenceNumber") -> int:
        """The counter a sequence number of `shard` holds; InvalidArgumentException when it is not one."""
        if len(text) != 56 or not text.isdigit() or not text.startswith("49"):
            raise errors.invalid(f"Invalid {what}. It is not a sequence number of stream {self.name}.")
        index = int(text[12:18])
        if index != shard.index:
            raise errors.invalid(f"Invalid {what}. It encodes {shard_name(index)}, while it was used in a call "
                                 f"to a shard with {shard.shard_id}")
        return int(text[18:])

    # -- descriptions -----------------------------------------------------------------------------------
    def describe_shard(self, shard: Shard) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ShardId": shard.shard_id,
            "HashKeyRange": {"StartingHashKey": str(shard.start_hash), "EndingHashKey": str(shard.end_hash)},
            "SequenceNumberRange": {"StartingSequenceNumber": self.sequence_number(shard, shard.start_seq)},
        }
        if shard.end_seq is not None:
            out["SequenceNumberRange"]["EndingSequenceNumber"] = self.sequence_number(shard, shard.end_seq)
        if shard.parent:
            out["ParentShardId"] = shard.parent
        if shard.adjacent_parent:
            out["AdjacentParentShardId"] = shard.adjacent_parent
        return out

    def mode_details(self) -> dict[str, str]:
        return {"StreamMode": self.mode}

    def row(self) -> StreamRow:
        return StreamRow(self.id, self.region, self.name, self.created, self.mode, self.retention_hours,
                         self.max_record_kib, json.dumps(self.tags), self.next_shard)


def shard_row(stream: Stream, shard: Shard) -> ShardRow:
    return ShardRow(shard.row, stream.id, shard.shard_id, shard.parent, shard.adjacent_parent, shard.start_hash,
                    shard.end_hash, shard.start_seq, shard.end_seq, shard.created, shard.closed)


class Catalog:
    """Every region's streams; ids and sequence counters for new rows come from here."""

    def __init__(self, store: KinesisStore) -> None:
        self.store = store
        self.streams: dict[tuple[str, str], Stream] = {}
        self._stream_id = self._shard_row = 0
        self.counter = 0  # the last sequence counter handed out
        # Creating and deleting streams one at a time: two creators of one name would both see it missing.
        self.mutex = asyncio.Lock()

    def load(self) -> None:
        by_id: dict[int, Stream] = {}
        for row in self.store.streams():
            stream = Stream(row.id, row.region, row.name, row.created, row.mode, row.retention_hours,
                            row.max_record_kib, _tags(row.tags), row.next_shard, row.policy)
            by_id[row.id] = stream
            self.streams[(row.region, row.name)] = stream
        shards: dict[int, Shard] = {}
        for s in self.store.shards():
            owner = by_id.get(s.stream_id)
            if owner is not None:
                shard = Shard(s.id, s.shard_id, s.start_hash, s.end_hash, s.start_seq, s.created, s.parent,
                              s.adjacent_parent, s.end_seq, s.closed)
                owner.add_shard(shard)
                shards[s.id] = shard
        for row_id, seq, arrival in self.store.shard_tips():
            if row_id in shards:
                shards[row_id].last_seq, shards[row_id].last_arrival = seq, arrival
        self._stream_id, self._shard_row, self.counter = self.store.high_water()

    def clear(self) -> None:
        self.streams.clear()

    def next_stream_id(self) -> int:
        self._stream_id += 1
        return self._stream_id

    def next_shard_row(self) -> int:
        self._shard_row += 1
        return self._shard_row

    def reserve(self, count: int) -> range:
        """The next `count` sequence counters (a failed write leaves a gap, never a reuse)."""
        first = self.counter + 1
        self.counter += count
        return range(first, first + count)

    def in_region(self, region: str) -> list[Stream]:
        return sorted((s for (r, _), s in self.streams.items() if r == region), key=lambda s: s.name)


def _tags(text: str) -> dict[str, str]:
    value: Any = json.loads(text)
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}
