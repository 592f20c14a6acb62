"""Delivering matched events: the deliveries outbox, retried on the clock, dead-lettered when it must.

Each row is one event for one target of one rule. It is tried at once; a retryable failure is tried again
after an exponential back-off with jitter until the target's RetryPolicy runs out (MaximumRetryAttempts,
185 by default; MaximumEventAgeInSeconds, 24 hours by default), and a failure that retrying cannot mend
(no permission, no such target) is not retried. Then the event goes to the target's DeadLetterConfig queue
if it has one, else it is dropped, as AWS does:
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html

Rows of one target are delivered one at a time in the order they were made (a FIFO queue target keeps the
order of a rule's events); different targets are delivered concurrently. Retries wait on timers of the
server's clock, never in a sleep loop.
"""

from __future__ import annotations

import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from conveyor.background import spawn
from conveyor.clock import Clock, TimerHandle
from conveyor.ports import Ports
from conveyor.protocol.base import iso8601
from conveyor.services.events import targets
from conveyor.services.events.store import DeliveryRow, EventsStore

log = logging.getLogger(__name__)

DEFAULT_RETRIES = 185
DEFAULT_MAX_AGE = 86400
_FIRST_BACKOFF = 1.0
_MAX_BACKOFF = 300.0

BusPutter = Callable[[str, dict[str, Any]], Awaitable[None]]


def backoff(attempt: int) -> float:
    """Seconds before retry number `attempt` (1, 2, ...): doubling from a second up to five minutes, with
    jitter (a random share of the upper half)."""
    ceiling = min(_MAX_BACKOFF, _FIRST_BACKOFF * 2.0 ** (attempt - 1))
    return ceiling / 2 + random.random() * ceiling / 2


class Dispatcher:
    def __init__(self, store: EventsStore, clock: Clock, ports: Ports, account: str, put_on_bus: BusPutter) -> None:
        self.store = store
        self.clock = clock
        self.ports = ports
        self.account = account
        self.put_on_bus = put_on_bus
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
        key = (row.rule_arn, str(row.target.get("Id")))
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
                    await self._attempt(row)
                except Exception:  # a failed outbox write: the row stays stored and is tried at next start
                    log.exception("delivering an event of %s failed", row.rule_arn)
                finally:
                    self._trying -= 1
        finally:
            if self._lanes.get(key) is lane:
                del self._lanes[key]

    # -- one attempt -------------------------------------------------------------------------------------
    async def _attempt(self, row: DeliveryRow) -> None:
        rule_name = row.rule_arn.rsplit("/", 1)[-1]
        ctx = targets.Context(self.ports, self.account, row.rule_arn, rule_name, self.put_on_bus)
        try:
            body = targets.payload(row.target, row.event, row.rule_arn, rule_name, iso8601(row.first_at))
            await targets.deliver(ctx, row.target, row.event, body)
        except targets.DeliveryFailed as failure:
            await self._failed(row, failure)
            return
        await self.store.delivered(row.id)
        self.delivered += 1

    async def _failed(self, row: DeliveryRow, failure: targets.DeliveryFailed) -> None:
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
                    retry = DeliveryRow(row.id, row.rule_arn, row.target, row.event, row.attempts + 1, row.first_at,
                                        due)
                    self.schedule([retry])
                    return
                exhausted = "MaximumEventAgeInSeconds"
        queue = (row.target.get("DeadLetterConfig") or {}).get("Arn")
        sent = False
        if queue:
            sent = await targets.to_dead_letter_queue(self.ports, queue, row.rule_arn, str(row.target["Arn"]),
                                                      row.event, failure, row.attempts, exhausted, self.account)
        if sent:
            self.dead_lettered += 1
        else:
            self.dropped += 1
            log.warning("event %s for %s dropped (%s: %s)", row.event.get("id"), row.target.get("Arn"), failure.code,
                        failure.message)
        await self.store.delivered(row.id)
