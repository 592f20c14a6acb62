"""Delivering bucket events: the outbox table, drained in order, each row deleted once delivered.

An event is written to the outbox in the same commit as the object change it describes (see
S3Store), so an acknowledged PUT's event survives kill -9: the outbox is drained again at start.
Delivery is at least once, as on AWS.

A round takes the rows waiting in id order and hands consecutive rows for the same queue or topic over
as one batch (at most BATCH): SQS stores a batch in one write and SNS fans one out in one write, so a
burst of uploads costs a queue commit per batch instead of one per event. Rows for functions, buses
and replication jobs go one at a time (each is an invocation or a job of its own).

Delivered rows are deleted by a write nobody waits for: it rides S3's next commit (an upload's, most
often) instead of paying an fsync of its own. Until it is durable, a cursor (the last row delivered)
keeps the next round from reading those rows again; ids are AUTOINCREMENT, so a later row always has a
larger id. A crash before the delete is durable delivers the rows again, which at-least-once allows.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

log = logging.getLogger(__name__)

# kind (sqs, sns, lambda, ...), target ARN, the JSON bodies in order: raises to have them all retried
Sender = Callable[[str, str, Sequence[str]], Awaitable[None]]
OutboxRow = tuple[int, str, str, str]  # id, kind, target, body

BATCHED_KINDS = frozenset({"sqs", "sns"})  # destinations that store a batch in one write
BATCH = 10  # rows per batch: SNS signs each message on the event loop (~0.25 ms), so a batch stays short
ROUND = 100  # rows read per round


class Undeliverable(Exception):
    """The destination is gone (e.g. the queue was deleted): AWS drops such events, and so do we."""


class EventRows(Protocol):
    """Where the outbox rows are kept (S3Store)."""

    def pending_events(self, after: int, limit: int) -> list[OutboxRow]:
        """Up to `limit` rows with ids above `after`, in id order."""
        ...

    def clear_events(self, ids: Sequence[int]) -> asyncio.Future[object]:
        """Delete delivered rows in a write that rides the next commit; resolves once it is durable."""
        ...


def batches(rows: Sequence[OutboxRow]) -> list[list[OutboxRow]]:
    """`rows` cut into runs for one delivery each: consecutive rows of a batched kind with the same target,
    at most BATCH of them; any other row alone."""
    out: list[list[OutboxRow]] = []
    for row in rows:
        last = out[-1] if out else None
        if (last is not None and row[1] in BATCHED_KINDS and last[0][1] == row[1] and last[0][2] == row[2]
                and len(last) < BATCH):
            last.append(row)
        else:
            out.append([row])
    return out


class Outbox:
    """Delivers outbox rows in order; a failed delivery is retried with backoff, never dropped."""

    def __init__(self, rows: EventRows, send: Sender) -> None:
        self.rows = rows
        self.send = send
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._cursor = 0  # rows up to this id are delivered (their delete may still be on its way)
        self._reread = False  # a delete failed: the next round starts over from the first row

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="s3-outbox")
        self.kick()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None

    def kick(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        delay = 0.05
        while True:
            await self._wake.wait()
            self._wake.clear()
            while True:
                if self._reread:
                    self._reread, self._cursor = False, 0
                rows = self.rows.pending_events(self._cursor, ROUND)
                if not rows:
                    break
                failed = False
                done: list[int] = []
                for batch in batches(rows):
                    kind, target = batch[0][1], batch[0][2]
                    try:
                        await self.send(kind, target, [body for _, _, _, body in batch])
                    except Undeliverable as exc:
                        log.warning("dropping %d event(s) for %s: %s", len(batch), target, exc)
                    except Exception as exc:
                        log.warning("event delivery to %s failed (%s); will retry", target, exc)
                        failed = True
                        break
                    done += [row_id for row_id, _, _, _ in batch]
                    self._cursor = batch[-1][0]
                if done:
                    self.rows.clear_events(done).add_done_callback(self._cleared)
                if failed:
                    # Retry later; a timer, not a loop spinning on a dead destination.
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
                else:
                    delay = 0.05

    def _cleared(self, written: asyncio.Future[object]) -> None:
        if written.cancelled() or written.exception() is None:
            return
        # (a full disk) The rows are still there: the next round reads them again from the start and
        # delivers them again (a round under way when this runs would move the cursor on past them).
        log.warning("could not clear delivered events (%s); will deliver them again", written.exception())
        self._reread = True
        self.kick()
