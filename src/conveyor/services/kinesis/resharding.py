"""SplitShard, MergeShards and UpdateShardCount: closing shards and opening their children in one commit.

https://docs.aws.amazon.com/streams/latest/dev/kinesis-using-sdk-java-resharding.html: a split closes a
shard and opens two children that share its hash key range (ParentShardId); a merge closes two adjacent
shards and opens one child (ParentShardId, AdjacentParentShardId). The closed parents keep their records
for the retention period, so a reader that finishes a parent before its children reads every key in order.

UpdateShardCount with UNIFORM_SCALING reaches even ranges as AWS does, by splits and merges: each open shard
is split at the target boundaries inside it, and the pieces of each target range are merged pairwise. The
intermediate shards are opened and closed in the same commit; every shard keeps at most two parents.
https://docs.aws.amazon.com/kinesis/latest/APIReference/API_UpdateShardCount.html
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from conveyor.services.kinesis import errors
from conveyor.services.kinesis.streams import Catalog, Shard, Stream, even_ranges, shard_name, shard_row

MAX_SHARDS_PER_STREAM = 10_000


@contextlib.asynccontextmanager
async def exclusive(stream: Stream) -> AsyncIterator[None]:
    """Hold the stream's writes back and wait for those under way: a shard closes only once every record
    routed to it is stored."""
    while stream.resharding:
        await stream.reshard_done.wait()
    stream.resharding = True
    stream.reshard_done.clear()
    try:
        while stream.writes:
            await stream.writes_done.wait()
        yield
    finally:
        stream.resharding = False
        stream.reshard_done.set()


@dataclass
class Plan:
    """Shards to close and children to open, applied in memory only once they are stored."""

    catalog: Catalog
    stream: Stream
    now_ms: int
    next_shard: int = 0
    closing: list[Shard] = field(default_factory=list)
    opened: list[Shard] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.next_shard = self.stream.next_shard

    def _open(self, start: int, end: int, parent: str | None, adjacent: str | None = None) -> Shard:
        shard = Shard(self.catalog.next_shard_row(), shard_name(self.next_shard), start, end,
                      self.catalog.counter + 1, self.now_ms, parent, adjacent)
        self.next_shard += 1
        self.opened.append(shard)
        return shard

    def split(self, shard: Shard, at: int) -> tuple[Shard, Shard]:
        self.closing.append(shard)
        return self._open(shard.start_hash, at - 1, shard.shard_id), self._open(at, shard.end_hash, shard.shard_id)

    def merge(self, shard: Shard, adjacent: Shard) -> Shard:
        self.closing.extend((shard, adjacent))
        low, high = min(shard.start_hash, adjacent.start_hash), max(shard.end_hash, adjacent.end_hash)
        return self._open(low, high, shard.shard_id, adjacent.shard_id)

    async def commit(self) -> None:
        end = self.catalog.counter  # every counter handed out so far is below it; no write is under way
        closes = [(s.row, end, self.now_ms) for s in self.closing]
        opened_rows = []
        for shard in self.opened:
            if shard in self.closing:  # an intermediate shard: opened and closed at once, never written
                shard.end_seq, shard.closed = end, self.now_ms
            opened_rows.append(shard_row(self.stream, shard))
        await self.catalog.store.reshard(self.stream.id, self.next_shard,
                                         [c for c in closes if c[0] not in {s.row for s in self.opened}],
                                         opened_rows)
        for shard in self.closing:
            if shard.closed is None:
                self.stream.close_shard(shard, end, self.now_ms)
        for shard in self.opened:
            self.stream.add_shard(shard)
        self.stream.next_shard = self.next_shard
        self.stream.signal()


def _mutable(stream: Stream, account: str) -> None:
    if stream.mode == "ON_DEMAND":
        raise errors.on_demand(stream.name, account)


def _open_shard(stream: Stream, shard_id: str, account: str) -> Shard:
    shard = stream.shard(shard_id, account)
    if not shard.is_open:
        raise errors.invalid(f"Shard {shard_id} in stream {stream.name} under account {account} has already been "
                             "merged or split, and thus is not eligible for merging or splitting.")
    return shard


async def split_shard(catalog: Catalog, stream: Stream, shard_id: str, new_start: str, account: str,
                      now_ms: int, shard_limit: int) -> None:
    _mutable(stream, account)
    async with exclusive(stream):
        shard = _open_shard(stream, shard_id, account)
        at = int(new_start)
        if not shard.start_hash < at <= shard.end_hash:
            raise errors.invalid(f"NewStartingHashKey {new_start} used in SplitShard() on shard {shard_id} in stream "
                                 f"{stream.name} under account {account} is not both greater than one plus the "
                                 f"shard's StartingHashKey {shard.start_hash} and less than the shard's "
                                 f"EndingHashKey {shard.end_hash}.")
        if shard_limit < 1:
            raise errors.limit_exceeded(f"This request would exceed the shard limit for the account {account} in "
                                        f"{stream.region}.")
        plan = Plan(catalog, stream, now_ms)
        plan.split(shard, at)
        await plan.commit()


async def merge_shards(catalog: Catalog, stream: Stream, shard_id: str, adjacent_id: str, account: str,
                       now_ms: int) -> None:
    _mutable(stream, account)
    async with exclusive(stream):
        shard, adjacent = _open_shard(stream, shard_id, account), _open_shard(stream, adjacent_id, account)
        if shard.end_hash + 1 != adjacent.start_hash and adjacent.end_hash + 1 != shard.start_hash:
            raise errors.invalid(f"Shards {shard_id} and {adjacent_id} in stream {stream.name} under account "
                                 f"{account} are not an adjacent pair of shards eligible for merging")
        plan = Plan(catalog, stream, now_ms)
        plan.merge(shard, adjacent)
        await plan.commit()


async def update_shard_count(catalog: Catalog, stream: Stream, target: int, account: str, now_ms: int,
                             shard_limit: int) -> int:
    """Scale to `target` even shards; the open shard count before."""
    _mutable(stream, account)
    async with exclusive(stream):
        current = stream.open_shards()
        count = len(current)
        # The limits of one call: https://docs.aws.amazon.com/kinesis/latest/APIReference/API_UpdateShardCount.html
        if target > 2 * count:
            raise errors.invalid(f"UpdateShardCount cannot scale up over double your current open shard count. "
                                 f"Current open shard count: {count} Target shard count: {target}")
        if target * 2 < count:
            raise errors.invalid(f"UpdateShardCount cannot scale down below half your current open shard count. "
                                 f"Current open shard count: {count} Target shard count: {target}")
        if target > MAX_SHARDS_PER_STREAM:
            raise errors.invalid(f"UpdateShardCount cannot scale up over {MAX_SHARDS_PER_STREAM} shards per stream.")
        if target - count > shard_limit:
            raise errors.limit_exceeded(f"This request would exceed the shard limit for the account {account} in "
                                        f"{stream.region}.")
        plan = Plan(catalog, stream, now_ms)
        targets = even_ranges(target)
        starts = [low for low, _ in targets]
        pieces: list[Shard] = []
        for shard in current:
            inside = [b for b in starts if shard.start_hash < b <= shard.end_hash]
            rest = shard
            for boundary in inside:
                left, rest = plan.split(rest, boundary)
                pieces.append(left)
            pieces.append(rest)
        for low, high in targets:
            group = sorted((p for p in pieces if low <= p.start_hash and p.end_hash <= high), key=lambda p: p.start_hash)
            merged = group[0]
            for piece in group[1:]:
                merged = plan.merge(merged, piece)
        if plan.opened:
            await plan.commit()
        return count
