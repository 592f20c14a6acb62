"""Deliveries to targets, retried on the clock and dead-lettered: the outbox runner EventBridge's rules and
EventBridge Scheduler's schedules share (each keeps its rows in its own store).

Each row is one event (or one schedule invocation) for one target. It is tried at once; a retryable
failure is tried again after an exponential back-off with jitter until the target's RetryPolicy runs out
(MaximumRetryAttempts, 185 by default; MaximumEventAgeInSeconds, 24 hours by default), and a failure that
retrying cannot mend (no permission, no such target) is not retried. Then the service's dead-letter step
runs (the target's DeadLetterConfig queue), else the event is dropped, as AWS does:
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html,
https://docs.aws.amazon.com/scheduler/latest/UserGuide/configuring-schedule-dlq.html

Rows of one target are delivered one at a time in the order they were made (a FIFO queue target keeps the
order of its events); different targets are delivered concurrently. Retries wait on timers of the server's
clock, never in a sleep loop.
"""

from __future__ import annotations

import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from conveyor.background import spawn
from conveyor.clock import Clock, TimerHandle

log = logging.getLogger(__name__)

DEFAULT_RETRIES = 185
DEFAULT_MAX_AGE = 86400
_FIRST_BACKOFF = 1.0
_MAX_BACKOFF = 300.0


@dataclass(frozen=True)
class DeliveryRow:
    id: int
    source_arn: str  # the rule or schedule that sends it
    target: dict[str, Any]  # the Target as it was configured when the event was matched
    event: dict[str, Any]
    attempts: int  # retries made so far
    first_at: float  # when the event came in: its age counts from here
    due: float


class DeliveryFailed(Exception):
    """A target did not take an event: `code` as the dead-letter messages name it (ERROR_CODE)."""

    def __init__(self, code: str, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable


class DeliveryStore(Protocol):
    """Where a service keeps its deliveries (all SQL stays in the service's store)."""

    def deliveries(self) -> list[DeliveryRow]: ...

    def last_delivery_id(self) -> int: ...

    async def delivered(self, delivery_id: int) -> None: ...

    async def retry_later(self, delivery_id: int, attempts: int, due: float) -> None: ...


Attempt = Callable[[DeliveryRow], Awaitable[None]]  # raises DeliveryFailed
# (row, failure, exhausted retry condition or None) -> whether the dead-letter queue took it
DeadLetter = Callable[[DeliveryRow, DeliveryFailed, "str | None"], Awaitable[bool]]
# Told how each delivery ended, once: "delivered", "dead_lettered" or "dropped" (a service's metrics).
Outcome = Callable[[DeliveryRow, str], None]


def backoff(attempt: int) -> float:
    """Seconds before retry number `attempt` (1, 2, ...): doubling from a second up to five minutes, with
    jitter (a random share of the upper half)."""
    ceiling = min(_MAX_BACKOFF, _FIRST_BACKOFF * 2.0 ** (attempt - 1))
    return ceiling / 2 + random.random() * ceiling / 2


class Dispatcher:
    def __init__(self, store: DeliveryStore, clock: Clock, attempt: Attempt, dead_letter: DeadLetter,
                 outcome: Outcome | None = None) -> None:
        self.store = store
        self.outcome = outcome
        self.clock = clock
        self.attempt = attempt
        self.dead_letter = dead_letter
        self._lanes: dict[tuple[str, str], deque[DeliveryRow]] = {}
        self._timers: dict[int, TimerHandle] = {}
        self._ids = 0
        self._trying = 0
        self.delivered = 0
        self.dead_lettered = 0
        self.dropped = 0
        self.active = True

    def load(self) -> None:
        """At start: every row left undelivered is due again (at its retry time)."""
        self._ids = self.store.last_delivery_id()
        self.schedule(self.store.deliveries())

    def stop(self) -> None:
        self.active = False
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._lanes.clear()

    def reset(self) -> None:
        self.stop()
        self._ids = 0
        self.delivered = self.dead_lettered = self.dropped = 0
        self.active = True

    def next_ids(self, count: int) -> range:
        first = self._ids + 1
        self._ids += count
        return range(first, first + count)

    def pending(self) -> int:
        """Deliveries waiting for a retry, queued, or being tried now."""
        return len(self._timers) + sum(len(lane) for lane in self._lanes.values()) + self._trying

    def retrying(self) -> int:
        """Deliveries waiting on the clock for their next try."""
        return len(self._timers)

    def counts(self) -> dict[str, int]:
        return {"pending_deliveries": self.pending(), "retrying": self.retrying(), "delivered": self.delivered,
                "dead_lettered": self.dead_lettered, "dropped": self.dropped}

    # -- scheduling --------------------------------------------------------------------------------------
    def schedule(self, rows: Sequence[DeliveryRow]) -> None:
        """Rows already stored: each is tried at its due time (now, for new ones)."""
        now = self.clock.now()
        for row in rows:
            if row.due <= now:
                self._ready(row)
            else:
                self._timers[row.id] = self.clock.call_at(row.due, self._waker(row))

    def _waker(self, row: DeliveryRow) -> Callable[[], None]:
        def wake() -> None:
            self._timers.pop(row.id, None)
            if self.active:
                self._ready(row)

        return wake

    def _ready(self, row: DeliveryRow) -> None:
        key = (row.source_arn, str(row.target.get("Id") or row.target.get("Arn")))
        lane = self._lanes.get(key)
        if lane is not None:
            lane.append(row)
            return
        self._lanes[key] = deque([row])
        spawn(self._drain(key))

    async def _drain(self, key: tuple[str, str]) -> None:
        lane = self._lanes[key]
        try:
            while lane and self.active:
                row = lane.popleft()
                self._trying += 1
                try:
                    await self._try(row)
                except Exception:  # a failed outbox write: the row stays stored and is tried at next start
                    log.exception("delivering an event of %s failed", row.source_arn)
                finally:
                    self._trying -= 1
        finally:
            if self._lanes.get(key) is lane:
                del self._lanes[key]

    # -- one attempt -------------------------------------------------------------------------------------
    async def _try(self, row: DeliveryRow) -> None:
        try:
            await self.attempt(row)
        except DeliveryFailed as failure:
            await self._failed(row, failure)
            return
        await self.store.delivered(row.id)
        self.delivered += 1
        self._tell(row, "delivered")

    def _tell(self, row: DeliveryRow, outcome: str) -> None:
        if self.outcome is not None:
            try:
                self.outcome(row, outcome)
            except Exception:  # a metric that could not be counted does not undo the delivery
                log.exception("counting a delivery of %s failed", row.source_arn)

    async def _failed(self, row: DeliveryRow, failure: DeliveryFailed) -> None:
        policy = row.target.get("RetryPolicy") or {}
        max_retries = policy.get("MaximumRetryAttempts", DEFAULT_RETRIES)
        max_age = policy.get("MaximumEventAgeInSeconds", DEFAULT_MAX_AGE)
        now = self.clock.now()
        exhausted: str | None = None
        if failure.retryable:
            if row.attempts >= max_retries:
                exhausted = "MaximumRetryAttempts"
            else:
                due = now + backoff(row.attempts + 1)
                if due - row.first_at <= max_age:
                    await self.store.retry_later(row.id, row.attempts + 1, due)
                    self.schedule([replace(row, attempts=row.attempts + 1, due=due)])
                    return
                exhausted = "MaximumEventAgeInSeconds"
        if await self.dead_letter(row, failure, exhausted):
            self.dead_lettered += 1
            outcome = "dead_lettered"
        else:
            self.dropped += 1
            outcome = "dropped"
            log.warning("an event of %s for %s was dropped (%s: %s)", row.source_arn, row.target.get("Arn"),
                        failure.code, failure.message)
        await self.store.delivered(row.id)
        self._tell(row, outcome)
