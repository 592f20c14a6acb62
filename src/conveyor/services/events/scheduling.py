"""Scheduled rules: one timer per enabled rule with a ScheduleExpression, on the server's clock.

When a rule's time comes, its timer sets the next one at once (so moving a manual clock by an hour fires a
rate(1 minute) rule sixty times, each at its minute), and the firing is stored: the rule's "Scheduled
Event" deliveries in one commit with the rule's `last_fired` (the time that was due). A restart resumes from
`last_fired`, so a firing stored before a crash is not made again; the runs that fell while the server was
down are fired once, as a single event for the latest of them (AWS's schedules never stop; Conveyor's do
while it is down, and a burst of stale events would help no one). A rule enabled again, or changed, goes
on from its next time after now.
The event: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-run-lambda-schedule.html
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from conveyor import ids
from conveyor.background import spawn
from conveyor.clock import Clock, TimerHandle
from conveyor.services import schedule_expressions as expressions
from conveyor.services.events.catalog import Catalog, Rule
from conveyor.services.events.ingest import Router, event_time

log = logging.getLogger(__name__)
_CATCH_UP_LIMIT = 1_000_000  # runs looked at when finding the latest one missed while down

Key = tuple[str, str, str]


def _key(rule: Rule) -> Key:
    return (rule.row.region, rule.row.bus, rule.row.name)


class Scheduler:
    def __init__(self, catalog: Catalog, router: Router, clock: Clock) -> None:
        self.catalog = catalog
        self.router = router
        self.clock = clock
        self._timers: dict[Key, TimerHandle] = {}
        # The latest run each rule's timer dispatched (with the schedule it belonged to): a firing may still
        # be on its way to the store, and must not be made twice when the rule is armed again meanwhile.
        self._dispatched: dict[Key, tuple[str | None, float, float]] = {}
        self.fired = 0

    def start(self) -> None:
        now = self.clock.now()
        for rule in list(self.catalog.rules.values()):
            if not rule.enabled or rule.schedule is None:
                continue
            since = rule.row.last_fired if rule.row.last_fired is not None else rule.row.anchor
            due = expressions.next_time(rule.schedule, since, rule.row.anchor)
            if due is not None and due <= now:
                missed = self._latest_missed(rule.schedule, due, now, rule.row.anchor)
                self._dispatched[_key(rule)] = (rule.row.schedule, rule.row.anchor, missed)
                spawn(self._fire(_key(rule), missed))
            self._arm_after(rule, max(since, now))

    def stop(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._dispatched.clear()

    def disarm(self, rule: Rule) -> None:
        timer = self._timers.pop(_key(rule), None)
        if timer is not None:
            timer.cancel()

    def arm(self, rule: Rule) -> None:
        """(Re)set the rule's timer after a change: none unless enabled and scheduled; else its next time
        after now (and after any run already dispatched)."""
        self.disarm(rule)
        if not rule.enabled or rule.schedule is None:
            return
        since = max(rule.row.last_fired or rule.row.anchor, self.clock.now())
        dispatched = self._dispatched.get(_key(rule))
        if dispatched is not None and dispatched[:2] == (rule.row.schedule, rule.row.anchor):
            since = max(since, dispatched[2])
        self._arm_after(rule, since)

    def _arm_after(self, rule: Rule, after: float) -> None:
        assert rule.schedule is not None
        due = expressions.next_time(rule.schedule, after, rule.row.anchor)
        if due is not None:
            key = _key(rule)
            self._timers[key] = self.clock.call_at(due, lambda: self._due(key, due))

    @staticmethod
    def _latest_missed(schedule: expressions.Expression, first: float, now: float, anchor: float) -> float:
        latest = first
        for _ in range(_CATCH_UP_LIMIT):
            following = expressions.next_time(schedule, latest, anchor)
            if following is None or following > now:
                break
            latest = following
        return latest

    def _due(self, key: Key, when: float) -> None:
        self._timers.pop(key, None)
        rule = self.catalog.rules.get(key)
        if rule is None or not rule.enabled or rule.schedule is None:
            return
        self._dispatched[key] = (rule.row.schedule, rule.row.anchor, when)
        self._arm_after(rule, when)
        spawn(self._fire(key, when))

    async def _fire(self, key: Key, when: float) -> None:
        try:
            async with self.catalog.mutex:
                rule = self.catalog.rules.get(key)
                if rule is None or not rule.enabled or rule.schedule is None:
                    return
                event: dict[str, Any] = {
                    "version": "0", "id": ids.uuid4(), "detail-type": "Scheduled Event", "source": "aws.events",
                    "account": self.catalog.account, "time": event_time(when), "region": rule.row.region,
                    "resources": [rule.arn(self.catalog.account)], "detail": {}}
                rows = self.router.deliveries(rule, event, self.clock.now())
                await self.router.catalog.store.add_deliveries(rows, fired=(rule.row, when))
                last = max(when, rule.row.last_fired or when)
                self.catalog.rules[key] = dataclasses.replace(rule, row=dataclasses.replace(rule.row, last_fired=last))
        except Exception:  # a failed write (a full disk): this run is lost, the schedule goes on
            log.exception("the schedule of rule %s could not fire", key[2])
            return
        self.fired += 1
        self.router.dispatcher.schedule(rows)
