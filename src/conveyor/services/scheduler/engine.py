"""Scheduler's groups and schedules in memory (changed only after their write commits), one timer per
enabled schedule on the server's clock, and the deliveries of its invocations.

A schedule's timer sets its next one at once and stores the invocation with the schedule's `last_fired`
in one commit, so a restart neither repeats nor loses one; runs that fell while the server was down are
invoked once, for the latest of them (as EventBridge's scheduled rules are).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import itertools
import logging
from typing import Any

from conveyor import ids
from conveyor.background import spawn
from conveyor.clock import Clock, TimerHandle
from conveyor.config import Config
from conveyor.ports import Ports
from conveyor.services.retrying import DeliveryFailed, DeliveryRow, Dispatcher
from conveyor.services.scheduler import errors, invoke
from conveyor.services.scheduler.schedules import Schedule
from conveyor.services.scheduler.store import GroupRow, Key, ScheduleRow, SchedulerStore
from conveyor.storage.disk import DiskGuard

log = logging.getLogger(__name__)
DEFAULT_GROUP = "default"
_CATCH_UP_LIMIT = 1_000_000


class Engine:
    def __init__(self, config: Config, clock: Clock, disk: DiskGuard, ports: Ports) -> None:
        self.config = config
        self.clock = clock
        self.disk = disk
        self.ports = ports
        self.account = config.account_id
        self.groups: dict[tuple[str, str], GroupRow] = {}
        self.schedules: dict[Key, Schedule] = {}
        self.mutex = asyncio.Lock()
        self._store: SchedulerStore | None = None
        self._dispatcher: Dispatcher | None = None
        self._timers: dict[Key, TimerHandle] = {}
        self._dispatched: dict[Key, tuple[int, float]] = {}  # key -> (version, run) last handed to a firing
        self._versions = itertools.count(1)
        self.invocations = 0

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self) -> None:
        self._store = SchedulerStore(self.config.service_dir("scheduler") / "scheduler.db", self.disk)
        for group in self._store.groups():
            self.groups[(group.region, group.name)] = group
        for row in self._store.schedules():
            self.schedules[(row.region, row.group, row.name)] = Schedule.of(row, next(self._versions))
        self._dispatcher = Dispatcher(self._store, self.clock, self._attempt, self._dead_letter)
        self._dispatcher.load()
        now = self.clock.now()
        for schedule in list(self.schedules.values()):
            if not schedule.enabled:
                continue
            since = schedule.first_since()
            due = schedule.next_run(since)
            if due is not None and due <= now:
                missed = due
                for _ in range(_CATCH_UP_LIMIT):
                    following = schedule.next_run(missed)
                    if following is None or following > now:
                        break
                    missed = following
                self._dispatched[schedule.key] = (schedule.version, missed)
                spawn(self._fire(schedule.key, missed, schedule.version))
            self._arm_after(schedule, max(since, now))

    def stop(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        if self._dispatcher is not None:
            self._dispatcher.stop()
        if self._store is not None:
            self._store.close()
            self._store = None

    async def reset(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._dispatched.clear()
        self.dispatcher.reset()
        self.invocations = 0
        async with self.mutex:
            await self.store.wipe()
            self.groups.clear()
            self.schedules.clear()

    @property
    def started(self) -> bool:
        return self._store is not None

    @property
    def store(self) -> SchedulerStore:
        if self._store is None:
            raise RuntimeError("Scheduler is not started")
        return self._store

    @property
    def dispatcher(self) -> Dispatcher:
        if self._dispatcher is None:
            raise RuntimeError("Scheduler is not started")
        return self._dispatcher

    def counts(self) -> dict[str, int]:
        return {"schedules": len(self.schedules), "invocations": self.invocations, **self.dispatcher.counts()}

    # -- groups --------------------------------------------------------------------------------------
    def find_group(self, region: str, name: str) -> GroupRow | None:
        found = self.groups.get((region, name))
        if found is None and name == DEFAULT_GROUP:
            return GroupRow(region, DEFAULT_GROUP, {}, 0.0)
        return found

    def group(self, region: str, name: str | None) -> GroupRow:
        found = self.find_group(region, name or DEFAULT_GROUP)
        if found is None:
            raise errors.group_not_found(name or DEFAULT_GROUP)
        return found

    def groups_in(self, region: str) -> list[GroupRow]:
        found = {name: g for (r, name), g in self.groups.items() if r == region}
        found.setdefault(DEFAULT_GROUP, GroupRow(region, DEFAULT_GROUP, {}, 0.0))
        return sorted(found.values(), key=lambda g: g.name)

    async def save_group(self, group: GroupRow) -> None:
        await self.store.put_group(group)
        self.groups[(group.region, group.name)] = group

    async def drop_group(self, group: GroupRow) -> None:
        await self.store.delete_group(group.region, group.name)
        self.groups.pop((group.region, group.name), None)
        for key in [k for k in self.schedules if k[0] == group.region and k[1] == group.name]:
            self._disarm(key)
            del self.schedules[key]

    # -- schedules -----------------------------------------------------------------------------------
    def schedule(self, region: str, group: str | None, name: str) -> Schedule:
        self.group(region, group)
        found = self.schedules.get((region, group or DEFAULT_GROUP, name))
        if found is None:
            raise errors.schedule_not_found(name)
        return found

    async def save_schedule(self, row: ScheduleRow) -> Schedule:
        schedule = Schedule.of(row, next(self._versions))
        await self.store.put_schedule(row)
        self.schedules[schedule.key] = schedule
        self._arm(schedule)
        return schedule

    async def drop_schedule(self, schedule: Schedule) -> None:
        await self.store.delete_schedule(schedule.key)
        self.schedules.pop(schedule.key, None)
        self._disarm(schedule.key)

    # -- timers --------------------------------------------------------------------------------------
    def _disarm(self, key: Key) -> None:
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    def _arm(self, schedule: Schedule) -> None:
        """After a change: the next run after now (and after any run already handed to a firing)."""
        self._disarm(schedule.key)
        if not schedule.enabled:
            return
        since = max(schedule.first_since(), self.clock.now() - 1e-6)
        dispatched = self._dispatched.get(schedule.key)
        if dispatched is not None and dispatched[0] == schedule.version:
            since = max(since, dispatched[1])
        self._arm_after(schedule, since)

    def _arm_after(self, schedule: Schedule, after: float) -> None:
        due = schedule.next_run(after)
        if due is None:
            return
        key = schedule.key
        if due <= self.clock.now():  # a rate schedule's first run, at once (a manual clock fires no timer now)
            self._due(key, due)
        else:
            self._timers[key] = self.clock.call_at(due, lambda: self._due(key, due))

    def _due(self, key: Key, when: float) -> None:
        self._timers.pop(key, None)
        schedule = self.schedules.get(key)
        if schedule is None or not schedule.enabled:
            return
        self._dispatched[key] = (schedule.version, when)
        self._arm_after(schedule, when)
        spawn(self._fire(key, when, schedule.version))

    async def _fire(self, key: Key, when: float, version: int) -> None:
        try:
            async with self.mutex:
                schedule = self.schedules.get(key)
                if schedule is None or not schedule.enabled or schedule.version != version:
                    return  # deleted, disabled or changed since this run was due
                now = self.clock.now()
                arn = schedule.arn(self.account)
                scheduled = dt.datetime.fromtimestamp(when, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                event = {"schedule-arn": arn, "scheduled-time": scheduled,
                         "execution-id": ids.uuid4()}
                (number,) = self.dispatcher.next_ids(1)
                row = DeliveryRow(number, arn, dict(schedule.row.spec["Target"]), event, 0, now,
                                  now + schedule.delay())
                done = schedule.next_run(when) is None
                delete = done and schedule.row.spec.get("ActionAfterCompletion") == "DELETE"
                await self.store.fired([row], key, when, delete)
                if delete:
                    self.schedules.pop(key, None)
                    self._disarm(key)
                else:
                    last = max(when, schedule.row.last_fired or when)
                    self.schedules[key] = dataclasses.replace(
                        schedule, row=dataclasses.replace(schedule.row, last_fired=last))
        except Exception:  # a failed write (a full disk): this run is lost, the schedule goes on
            log.exception("schedule %s could not run", key[2])
            return
        self.invocations += 1
        self.dispatcher.schedule([row])

    # -- deliveries ----------------------------------------------------------------------------------
    async def _attempt(self, row: DeliveryRow) -> None:
        await invoke.invoke(self.ports, row)

    async def _dead_letter(self, row: DeliveryRow, failure: DeliveryFailed, exhausted: str | None) -> bool:
        return await invoke.to_dead_letter_queue(self.ports, row, failure, exhausted)


def describe(schedule: Schedule, account: str) -> dict[str, Any]:
    """GetSchedule's answer."""
    spec = schedule.row.spec
    out: dict[str, Any] = {"Arn": schedule.arn(account), "Name": schedule.row.name, "GroupName": schedule.row.group,
                           "CreationDate": schedule.row.created, "LastModificationDate": schedule.row.modified}
    for member in ("ScheduleExpression", "ScheduleExpressionTimezone", "StartDate", "EndDate", "Description",
                   "State", "FlexibleTimeWindow", "Target", "ActionAfterCompletion"):
        if spec.get(member) is not None:
            out[member] = spec[member]
    return out
