"""Delivering bucket events: the outbox table, drained in order, each row deleted once delivered.

An event is written to the outbox in the same commit as the object change it describes (see
S3Store), so an acknowledged PUT's event survives kill -9: the outbox is drained again at start.
Delivery is at least once, as on AWS.

Delivered rows are deleted by a write nobody waits for (Database.write_behind): it rides the next commit
another write starts instead of paying an fsync of its own. Until it commits, the rows are still on disk,
so the outbox remembers the last row it handled and reads only past it (ids only grow: AUTOINCREMENT); a
crash before that commit delivers them once more at the next start, which at least once allows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

log = logging.getLogger(__name__)

# kind (sqs, sns, lambda), target ARN, JSON body
Sender = Callable[[str, str, str], Awaitable[None]]
OutboxRow = tuple[int, str, str, str]  # id, kind, target, body


class Undeliverable(Exception):
    """The destination is gone (e.g. the queue was deleted): AWS drops such events, and so do we."""


class EventRows(Protocol):
    """Where the outbox rows are kept (S3Store)."""

    def pending_events(self, limit: int, after: int) -> list[OutboxRow]: ...

    def clear_events(self, ids: Sequence[int]) -> asyncio.Future[Any]: ...



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
                rows = self.rows.pending_events(100, self.handled_through)
                if not rows:
                    break
                failed = False
                done: list[int] = []
                for row_id, kind, target, body in rows:
                    try:
                        await self.send(kind, target, body)
                    except Undeliverable as exc:
                        log.warning("dropping event for %s: %s", target, exc)
                    except Exception as exc:
                        log.warning("event delivery to %s failed (%s); will retry", target, exc)
                        failed = True
                        break
                    done.append(row_id)
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
