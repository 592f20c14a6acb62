"""Message move tasks (DLQ redrive): move a dead-letter queue's messages back to their source queues or
to a chosen destination, at a rate paced by the clock.
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_StartMessageMoveTask.html
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from typing import Any

from conveyor.clock import Clock, TimerHandle
from conveyor.services.sqs.catalog import QueueCatalog
from conveyor.services.sqs.engine import SqsEngine
from conveyor.services.sqs.errors import invalid_param, sqs_error
from conveyor.services.sqs.queue import GONE, Message, Queue
from conveyor.services.sqs.store import MoveTaskRecord, SqsStore
from conveyor.storage.disk import DiskFull

DEFAULT_RATE = 500
MOVE_HOLD = 300


class MoveTask:
    def __init__(self, handle: str, source: Queue, dest_arn: str | None, rate: int | None, started: float,
                 to_move: int) -> None:
        self.handle = handle
        self.source = source
        self.source_arn = source.arn
        self.dest_arn = dest_arn
        self.rate = rate
        self.started = started
        self.to_move = to_move
        self.moved = 0
        self.status = "RUNNING"
        self.failure: str | None = None
        self.timer: TimerHandle | asyncio.Handle | None = None

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Status": self.status, "SourceArn": self.source_arn,
            "ApproximateNumberOfMessagesMoved": self.moved,
            "ApproximateNumberOfMessagesToMove": self.to_move,
            "StartedTimestamp": int(self.started * 1000),
        }
        if self.status == "RUNNING":
            out["TaskHandle"] = self.handle
        if self.dest_arn:
            out["DestinationArn"] = self.dest_arn
        if self.rate:
            out["MaxNumberOfMessagesPerSecond"] = self.rate
        if self.failure:
            out["FailureReason"] = self.failure
        return out


class MoveTasks:
    def __init__(self, store: SqsStore, catalog: QueueCatalog, engine: SqsEngine, clock: Clock) -> None:
        self.store = store
        self.catalog = catalog
        self.engine = engine
        self.clock = clock
        self.tasks: list[MoveTask] = []

    def load(self) -> None:
        """Restore task history after a restart and resume the tasks that were running."""
        for record in self.store.move_tasks():
            data = record.data
            src = self.catalog.get(record.source_arn)
            if src is None:
                continue
            t = MoveTask(record.handle, src, data.get("DestinationArn"), data.get("MaxNumberOfMessagesPerSecond"),
                         record.started, data.get("ApproximateNumberOfMessagesToMove", 0))
            t.moved = data.get("ApproximateNumberOfMessagesMoved", 0)
            t.status = data.get("Status", "COMPLETED")
            t.failure = data.get("FailureReason")
            self.tasks.append(t)
            if t.status == "RUNNING":
                self._schedule(t, self.clock.now())

    def clear(self) -> None:
        for t in self.tasks:
            if t.timer is not None:
                t.timer.cancel()
        self.tasks.clear()

    async def start(self, source_arn: str, dest_arn: str | None, rate: int | None) -> MoveTask:
        src = self.catalog.get(source_arn)
        if src is None:
            raise sqs_error("ResourceNotFoundException", "The resource that you specified for the SourceArn "
                            "parameter doesn't exist.")
        if not self.catalog.dead_letter_sources(src):
            raise invalid_param("Source queue must be configured as a Dead Letter Queue.")
        if dest_arn:
            dest = self.catalog.get(dest_arn)
            if dest is None:
                raise sqs_error("ResourceNotFoundException", "The resource that you specified for the "
                                "DestinationArn parameter doesn't exist.")
            if dest.fifo != src.fifo or dest is src:
                raise invalid_param("The destination queue must be a different queue of the same type.")
        if rate is not None and not 1 <= rate <= 500:
            raise invalid_param("MaxNumberOfMessagesPerSecond must be between 1 and 500.")
        if any(t.source is src and t.status == "RUNNING" for t in self.tasks):
            raise invalid_param("There is already a task running. Only one active task is allowed for a "
                                "source queue arn at a given time.")
        now = self.clock.now()
        raw = json.dumps({"taskId": str(uuid.uuid4()), "sourceArn": source_arn})
        handle = base64.b64encode(raw.encode()).decode()
        task = MoveTask(handle, src, dest_arn, rate, now, src.n_available)
        self.tasks.append(task)
        await self._save(task)
        asyncio.get_running_loop().create_task(self._step(task))
        return task

    async def cancel(self, handle: str) -> MoveTask:
        for t in self.tasks:
            if t.handle == handle:
                if t.status != "RUNNING":
                    raise invalid_param("Only active tasks can be cancelled.")
                t.status = "CANCELLED"
                if t.timer is not None:
                    t.timer.cancel()
                await self._save(t)
                return t
        raise sqs_error("ResourceNotFoundException", "The resource that you specified for the TaskHandle "
                        "parameter doesn't exist.")

    def list(self, source_arn: str, max_results: int) -> list[MoveTask]:
        if self.catalog.get(source_arn) is None:
            raise sqs_error("ResourceNotFoundException", "The resource that you specified for the SourceArn "
                            "parameter doesn't exist.")
        found = [t for t in self.tasks if t.source_arn == source_arn]
        return list(reversed(found))[:max_results]

    async def _save(self, t: MoveTask) -> None:
        await self.store.save_move_task(MoveTaskRecord(t.handle, t.source.account, t.source.region, t.source_arn,
                                                       t.describe(), t.started))

    async def _step(self, t: MoveTask) -> None:
        t.timer = None
        if t.status != "RUNNING":
            return
        eng = self.engine
        src = t.source
        if not self.catalog.holds(src):
            t.status, t.failure = "FAILED", "AWS.SimpleQueueService.NonExistentQueue"
            await self._save(t)
            return
        batch = min(t.rate or DEFAULT_RATE, t.to_move - t.moved)
        now = self.clock.now()
        # Held in flight while they move, so nobody receives them meanwhile.
        msgs = src.take(batch, now, MOVE_HOLD, lambda m: False) if batch > 0 else []
        msgs = eng.with_content(msgs)  # (their bodies and attributes, read from SQLite)
        done: list[Message] = []
        try:
            for m in msgs:
                dest_arn = t.dest_arn or m.source_arn
                dest = self.catalog.get(dest_arn) if dest_arn else None
                if dest is None:
                    raise LookupError("destination queue does not exist")
                copy = eng.prepare(dest, m.body, m.attrs, m.sys_attrs, m.group_id,
                                   m.dedup_id if dest.fifo else None, None, m.sender_id)
                await eng.enqueue(dest, [copy])
                done.append(m)
        except DiskFull:
            pass  # not the message's fault: the rest waits for room, and the task goes on next step
        except Exception as exc:  # an unmovable message fails the task, as AWS does
            t.status, t.failure = "FAILED", str(exc) or "AWS.SimpleQueueService.NonExistentQueue"
        # messages taken but not moved go back
        for m in msgs:
            if m not in done and m.queue is src and m.state != GONE:
                src.set_visibility(m, now, now)
        try:
            if done:
                await eng.delete_many(src, done)
            t.moved += len(done)
            if t.status == "RUNNING" and (t.moved >= t.to_move or not msgs):
                t.status = "COMPLETED"
            await self._save(t)
        except DiskFull:
            # Moved but not yet deleted ones come back after MOVE_HOLD and are moved again (SQS
            # delivers at least once); the task itself goes on once there is room.
            self._schedule(t, now + 1)
            return
        if t.status == "RUNNING":
            # Pace from this step's start, so time that passed while it ran counts toward the next.
            self._schedule(t, now + 1)

    def _schedule(self, t: MoveTask, when: float) -> None:
        loop = asyncio.get_running_loop()

        def run() -> None:
            t.timer = None
            loop.create_task(self._step(t))

        if when <= self.clock.now():
            t.timer = loop.call_soon(run)
        else:
            t.timer = self.clock.call_at(when, run)
