"""Delivering bucket events: the outbox table, drained in order, each row deleted once delivered.

An event is written to the outbox in the same commit as the object change it describes (see
S3Store), so an acknowledged PUT's event survives kill -9: the outbox is drained again at start.
Delivery is at least once, as on AWS.

A round takes the rows waiting in id order and hands consecutive rows for the same queue or topic over
as one batch (at most BATCH): SQS stores a batch in one write and SNS fans one out in one write, so a
burst of uploads costs a queue commit per batch instead of one per event. Rows for functions, buses
and replication jobs go one at a time (each is an invocation or a job of its own).

Delivered rows are deleted by a write nobody waits for: it rides S3's next commit (an upload's, most
often) instead of paying an fsync of its own. Until it is durable, `handled_through` (the last row
delivered) keeps the next round from reading those rows again; ids are AUTOINCREMENT, so a later row
always has a larger id. A delete that fails is tried again with the next round; a crash before it is
durable delivers the rows again at the next start, which at-least-once allows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

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

    def pending_events(self, limit: int, after: int) -> list[OutboxRow]:
        """Up to `limit` rows with ids above `after`, in id order."""
        ...

    def clear_events(self, ids: Sequence[int]) -> asyncio.Future[Any]:
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

    CLEAR_RETRY = 1.0  # seconds before clearing again rows whose clearing failed (when nothing else came)

    def __init__(self, rows: EventRows, send: Sender) -> None:
        self.rows = rows
        self.send = send
        self.handled_through = 0  # the last row delivered (or dropped): those up to it are cleared or clearing
        self._uncleared: list[int] = []  # delivered rows whose clearing failed: cleared again with the next
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

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

    def _clear(self, ids: list[int]) -> None:
        ids, self._uncleared = self._uncleared + ids, []
        clearing = self.rows.clear_events(ids)
        clearing.add_done_callback(lambda done: self._cleared(done, ids))

    def _cleared(self, clearing: asyncio.Future[Any], ids: list[int]) -> None:
        if not clearing.cancelled() and clearing.exception() is None:
            return
        # (a store busy past its timeout) The rows stay, delivered: cleared again by the next round, or
        # delivered once more after a restart (at least once either way).
        log.warning("could not clear delivered events (%s); will retry",
                    "cancelled" if clearing.cancelled() else clearing.exception())
        self._uncleared.extend(ids)
        with contextlib.suppress(RuntimeError):  # (the loop is closing)
            asyncio.get_running_loop().call_later(self.CLEAR_RETRY, self.kick)

    async def _run(self) -> None:
        delay = 0.05
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._uncleared:
                self._clear([])
            while True:
                rows = self.rows.pending_events(ROUND, self.handled_through)
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
                # One write for the rows delivered in this round, riding the next commit (a crash before it
                # only repeats them: delivery is at least once either way).
                if done:
                    self.handled_through = done[-1]
                    self._clear(done)
                if failed:
                    # Retry later; a timer, not a loop spinning on a dead destination.
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
                else:
                    delay = 0.05
