"""Delivering bucket events: the outbox table, drained in order, each row deleted once delivered.

An event is written to the outbox in the same commit as the object change it describes (see
S3Store), so an acknowledged PUT's event survives kill -9: the outbox is drained again at start.
Delivery is at least once, as on AWS.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

log = logging.getLogger(__name__)

# kind (sqs, sns, lambda), target ARN, JSON body
Sender = Callable[[str, str, str], Awaitable[None]]
OutboxRow = tuple[int, str, str, str]  # id, kind, target, body


class Undeliverable(Exception):
    """The destination is gone (e.g. the queue was deleted): AWS drops such events, and so do we."""


class EventRows(Protocol):
    """Where the outbox rows are kept (S3Store)."""

    def pending_events(self, limit: int) -> list[OutboxRow]: ...

    def clear_events(self, ids: Sequence[int]) -> Awaitable[object]: ...


class Outbox:
    """Delivers outbox rows in order; a failed delivery is retried with backoff, never dropped."""

    def __init__(self, rows: EventRows, send: Sender) -> None:
        self.rows = rows
        self.send = send
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

    async def _run(self) -> None:
        delay = 0.05
        while True:
            await self._wake.wait()
            self._wake.clear()
            while True:
                rows = self.rows.pending_events(100)
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
                # One commit for the rows delivered in this round (a crash before it only repeats them:
                # delivery is at least once either way).
                if done:
                    try:
                        await self.rows.clear_events(done)
                    except Exception as exc:  # (a full disk) they are delivered again: at least once
                        log.warning("could not clear delivered events (%s); will retry", exc)
                        failed = True
                if failed:
                    # Retry later; a timer, not a loop spinning on a dead destination.
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
                else:
                    delay = 0.05
