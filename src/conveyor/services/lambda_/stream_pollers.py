"""A stream mapping's pollers: one per shard being read, parents read to their end before their children.

https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html: Lambda reads each shard in order and
invokes the function with one batch of a shard at a time; ParallelizationFactor (1-10) lets up to that
many batches of one shard run at once, records of one partition key staying in order. Here a shard's
poller reads up to BatchSize x ParallelizationFactor records, deals them to that many lanes by partition
key, runs the lanes side by side, and then stores how far the shard was read (a checkpoint, durable: a
restart resumes there). After a resharding, a child shard is read once its parents are read to their end.
Pollers park on the stream's change event and the clock's timers: they never spin.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from conveyor.clock import Clock
from conveyor.ports import StreamRecord, Streams
from conveyor.services.lambda_ import poller_access
from conveyor.services.lambda_.store import LambdaStore
from conveyor.services.lambda_.stream_batches import Delivery

if TYPE_CHECKING:
    from conveyor.services.lambda_.stream_esm import StreamMapping

log = logging.getLogger(__name__)
END = "SHARD_END"  # the checkpoint of a shard read to its end


class Pollers:
    """The running part of one mapping, for one epoch: a supervisor and a poller per shard."""

    def __init__(self, m: StreamMapping, streams: Streams, store: LambdaStore, clock: Clock,
                 make_delivery: Callable[[Callable[[], bool]], Delivery], may: Callable[[str], bool]) -> None:
        self.m = m
        self.streams = streams
        self.store = store
        self.clock = clock
        self.stopping = False
        self.delivery = make_delivery(lambda: self.stopping)
        # Whether the function's execution role may make a call now (conveyor.services.lambda_.poller_access):
        # a refused call is tried again after a pause.
        self.may = may
        self.checkpoints = store.stream_checkpoints(m.uuid)
        self.shard_tasks: dict[str, asyncio.Task[None]] = {}
        self.busy: set[str] = set()  # shards whose records are with the function now
        self.supervisor: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.supervisor = asyncio.ensure_future(self._supervise())

    async def stop(self, graceful: bool) -> None:
        """Stop reading. Gracefully (update, disable, delete), batches with the function finish and are
        checkpointed; the server stopping cancels them (their records are read again after a restart)."""
        self.stopping = True
        tasks = [t for sid, t in self.shard_tasks.items() if not graceful or sid not in self.busy]
        if self.supervisor is not None:
            tasks.append(self.supervisor)
        for task in tasks:
            task.cancel()
        for task in [*tasks, *self.shard_tasks.values()]:
            with contextlib.suppress(BaseException):
                await task

    # -- which shards to read ------------------------------------------------------------------------
    async def _supervise(self) -> None:
        arn = self.m.source_arn
        while not self.stopping:
            if not (self.may("kinesis:DescribeStream") and self.may("kinesis:ListShards")):
                await poller_access.pause(self.clock)
                continue
            changed = self.streams.changed(arn)
            shards = self.streams.shards(arn)
            if shards is None or changed is None:
                log.info("stream mapping %s: stream %s is gone; it stops reading", self.m.uuid, arn)
                return
            known = {s.shard_id for s in shards}
            for shard in shards:
                sid = shard.shard_id
                if sid in self.shard_tasks or self.checkpoints.get(sid) == END:
                    continue
                if all(p not in known or self.checkpoints.get(p) == END for p in shard.parents):
                    self.shard_tasks[sid] = asyncio.ensure_future(self._poll(sid))
            running = [t for t in self.shard_tasks.values() if not t.done()]
            waiter = asyncio.ensure_future(changed.wait())
            try:
                await asyncio.wait([waiter, *running], return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()

    # -- one shard -------------------------------------------------------------------------------------
    async def _poll(self, shard_id: str) -> None:
        m, streams, arn = self.m, self.streams, self.m.source_arn
        try:
            while not self.may("kinesis:GetShardIterator"):
                await poller_access.pause(self.clock)
            position = self.checkpoints.get(shard_id) or streams.position(
                arn, shard_id, "AT_TIMESTAMP" if m.starting_position == "AT_TIMESTAMP" else "TRIM_HORIZON",
                m.starting_timestamp)
            want = m.batch_size * m.parallelization
            while not self.stopping:
                if not self.may("kinesis:GetRecords"):
                    await poller_access.pause(self.clock)
                    continue
                changed = streams.changed(arn)
                read = streams.read(arn, shard_id, position, want)
                records, ended = read.records, read.ended
                if m.window and records and len(records) < want and not ended:
                    records, ended = await self._gather(shard_id, position, want, records)
                if records:
                    self.busy.add(shard_id)
                    try:
                        await self._hand_over(shard_id, records)
                    finally:
                        self.busy.discard(shard_id)
                    if self.stopping:
                        return  # not necessarily all handed over: read again from the checkpoint
                    position = records[-1].sequence_number
                    await self._checkpoint(shard_id, position)
                    continue
                if ended:
                    await self._checkpoint(shard_id, END)
                    return
                if changed is None:
                    return
                await changed.wait()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the stream or shard is gone: the supervisor sees it
            log.info("stream mapping %s: reading %s stopped: %s", m.uuid, shard_id, exc)

    async def _gather(self, shard_id: str, position: str, want: int,
                      records: list[StreamRecord]) -> tuple[list[StreamRecord], bool]:
        """Wait up to the batching window (server clock) for a fuller batch."""
        deadline = self.clock.now() + self.m.window
        due = asyncio.Event()
        timer = self.clock.call_at(deadline, due.set)
        ended = False
        try:
            while len(records) < want and not ended and not due.is_set() and not self.stopping:
                changed = self.streams.changed(self.m.source_arn)
                if changed is None:
                    break
                waiters = [asyncio.ensure_future(changed.wait()), asyncio.ensure_future(due.wait())]
                try:
                    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for waiter in waiters:
                        waiter.cancel()
                if not self.may("kinesis:GetRecords"):
                    break
                read = self.streams.read(self.m.source_arn, shard_id, position, want)
                records, ended = read.records, read.ended
        finally:
            timer.cancel()
        return records, ended

    async def _hand_over(self, shard_id: str, records: list[StreamRecord]) -> None:
        factor, size = self.m.parallelization, self.m.batch_size
        if factor == 1:
            await self.delivery.deliver(shard_id, records)
            return
        lanes: list[list[StreamRecord]] = [[] for _ in range(factor)]
        for record in records:
            lanes[int.from_bytes(hashlib.md5(record.partition_key.encode()).digest()[:4], "big") % factor].append(record)

        async def run(lane: list[StreamRecord]) -> None:
            for start in range(0, len(lane), size):
                await self.delivery.deliver(shard_id, lane[start:start + size])

        await asyncio.gather(*(run(lane) for lane in lanes if lane))

    async def _checkpoint(self, shard_id: str, position: str) -> None:
        await self.store.put_stream_checkpoint(self.m.uuid, shard_id, position)
        self.checkpoints[shard_id] = position
