"""Scheduled rules: one timer per enabled rule with a ScheduleExpression, on the server's clock.

When a rule's time comes, its "Scheduled Event" is made and its deliveries are stored in one commit with
the rule's `last_fired` (the time that was due), then the next timer is set. So a restart resumes from
`last_fired`: a firing stored before a crash is not made again, and the runs that fell while the server was
down are fired once, as a single event for the latest of them (AWS's schedules never stop; Conveyor's do
while it is down, and a burst of stale events would help no one).
The event: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-run-lambda-schedule.html
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from conveyor import ids
from conveyor.background import spawn
from conveyor.clock import Clock, TimerHandle
from conveyor.services.events import expressions
from conveyor.services.events.catalog import Catalog, Rule
from conveyor.services.events.ingest import Router, event_time

log = logging.getLogger(__name__)
_CATCH_UP_LIMIT = 1_000_000  # runs looked at when finding the latest one missed while down


class Scheduler:
    def __init__(self, catalog: Catalog, router: Router, clock: Clock) -> None:
        self.catalog = catalog
        self.router = router
        self.clock = clock
        self._timers: dict[tuple[str, str, str], TimerHandle] = {}
        self.fired = 0

    def start(self) -> None:
        for rule in list(self.catalog.rules.values()):
            self.arm(rule, starting=True)

    def stop(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    def disarm(self, rule: Rule) -> None:
        timer = self._timers.pop(_key(rule), None)
        if timer is not None:
            timer.cancel()

    def arm(self, rule: Rule, *, starting: bool = False) -> None:
        """(Re)set the rule's timer from its current state: none unless enabled and scheduled."""
        self.disarm(rule)
        if not rule.enabled or rule.schedule is None:
            return
        since = rule.row.last_fired if rule.row.last_fired is not None else rule.row.anchor
        due = expressions.next_time(rule.schedule, since, rule.row.anchor)
        if due is None:
            return
        now = self.clock.now()
        if starting and due <= now:
            missed = self._latest_missed(rule.schedule, due, now, rule.row.anchor)
            spawn(self._fire(rule, missed))
            return
        self._timers[_key(rule)] = self.clock.call_at(due, lambda: self._due(rule, due))

    @staticmethod
    def _latest_missed(schedule: expressions.Expression, first: float, now: float, anchor: float) -> float:
        latest = first
        for _ in range(_CATCH_UP_LIMIT):
            following = expressions.next_time(schedule, latest, anchor)
            if following is None or following > now:
                break
            latest = following
        return latest

    def _due(self, rule: Rule, when: float) -> None:
        self._timers.pop(_key(rule), None)
        current = self.catalog.rules.get(_key(rule))
        if current is not rule:  # changed or deleted since the timer was set
            return
        spawn(self._fire(rule, when))

    async def _fire(self, rule: Rule, when: float) -> None:
        event: dict[str, Any] = {
            "version": "0", "id": ids.uuid4(), "detail-type": "Scheduled Event", "source": "aws.events",
            "account": self.catalog.account, "time": event_time(when), "region": rule.row.region,
            "resources": [rule.arn(self.catalog.account)], "detail": {}}
        rows = self.router.deliveries(rule, event, self.clock.now())
        try:
            async with self.catalog.mutex:
                current = self.catalog.rules.get(_key(rule))
                if current is None or current.row.schedule != rule.row.schedule or not current.enabled:
                    return
                await self.router.dispatcher.store.add_deliveries(rows, fired=(current.row, when))
                rule = await self._remember(current, when)
        except Exception:
            log.exception("the schedule of rule %s could not fire", rule.arn(self.catalog.account))
            self._timers[_key(rule)] = self.clock.call_at(self.clock.now() + 60, lambda: self._due(rule, when))
            return
        self.fired += 1
        self.router.dispatcher.schedule(rows)
        self.arm(rule)

    async def _remember(self, rule: Rule, when: float) -> Rule:
        """The rule with its new last_fired, in memory (the write that stored it is done)."""
        updated = Rule(dataclasses.replace(rule.row, last_fired=when), rule.pattern, rule.schedule)
        self.catalog.rules[_key(rule)] = updated
        return updated


def _key(rule: Rule) -> tuple[str, str, str]:
    return (rule.row.region, rule.row.bus, rule.row.name)
