"""Every region's alarms: kept in memory, stored on each change, evaluated each minute."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from conveyor.ports import AlarmFiring, Ports
from conveyor.services.cloudwatch import errors, notify
from conveyor.services.cloudwatch.alarms import Alarm, Verdict, judge
from conveyor.services.cloudwatch.catalog import MetricCatalog, dims_key
from conveyor.services.cloudwatch.series import buckets
from conveyor.services.cloudwatch.statistics import Bucket
from conveyor.services.cloudwatch.store import MetricStore

log = logging.getLogger("conveyor.cloudwatch")
HISTORY_KEPT = 30 * 86400  # AWS keeps alarm history 30 days
SCALING = "arn:aws:autoscaling:"  # actions that run an Auto Scaling policy

# A math alarm's series, from GetMetricData's evaluator: (alarm configuration, start, end) -> values by period.
MathSeries = Callable[[dict[str, Any], int, int, str], dict[int, float]]


class AlarmBook:
    def __init__(self, store: MetricStore, catalog: MetricCatalog, ports: Ports, account: str,
                 math: MathSeries) -> None:
        self.store = store
        self.catalog = catalog
        self.ports = ports
        self.account = account
        self.math = math
        self.alarms: dict[tuple[str, str], Alarm] = {}

    def load(self) -> None:
        for region, name, config, state in self.store.alarms():
            self.alarms[(region, name)] = Alarm.load(region, name, config, state)

    def clear(self) -> None:
        self.alarms.clear()

    def get(self, region: str, name: str) -> Alarm:
        alarm = self.alarms.get((region, name))
        if alarm is None:
            raise errors.not_found(f"Alarm {name} not found")
        return alarm

    def in_region(self, region: str) -> list[Alarm]:
        return sorted((a for (r, _), a in self.alarms.items() if r == region), key=lambda a: a.name)

    async def save(self, alarm: Alarm, history: tuple[str, float, str, str, str] | None) -> None:
        await self.store.put_alarm(alarm.region, alarm.name, json.dumps(alarm.config), json.dumps(alarm.state_doc()),
                                   history)

    async def put(self, region: str, name: str, config: dict[str, Any], now: float) -> None:
        existing = self.alarms.get((region, name))
        alarm = Alarm(region, name, config, state_updated=now, transitioned=now, configured=now)
        if existing is not None:  # an update keeps the state (PutMetricAlarm's documentation)
            alarm.state, alarm.reason, alarm.reason_data = existing.state, existing.reason, existing.reason_data
            alarm.state_updated, alarm.transitioned = existing.state_updated, existing.transitioned
        verb = "updated" if existing else "created"
        data = json.dumps({"type": "Create" if not existing else "Update", "createdAlarm" if not existing else
                           "updatedAlarm": alarm.describe(self.account)}, default=str)
        await self.save(alarm, (name, now, "ConfigurationUpdate", f'Alarm "{name}" {verb}', data))
        self.alarms[(region, name)] = alarm

    async def delete(self, region: str, names: list[str]) -> None:
        missing = [n for n in names if (region, n) not in self.alarms]
        if missing:
            raise errors.not_found(f"Alarm {missing[0]} not found")
        await self.store.delete_alarms(region, names)
        for name in names:
            self.alarms.pop((region, name), None)

    async def set_actions(self, region: str, names: list[str], enabled: bool, now: float) -> None:
        for name in names:
            alarm = self.alarms.get((region, name))
            if alarm is None:
                continue  # AWS ignores names of alarms that do not exist here
            config = {**alarm.config, "ActionsEnabled": enabled}
            changed = Alarm(alarm.region, alarm.name, config, alarm.state, alarm.reason, alarm.reason_data,
                            alarm.state_updated, alarm.transitioned, now)
            await self.save(changed, None)
            self.alarms[(region, name)] = changed

    # -- state changes -----------------------------------------------------------------------------------
    async def change_state(self, alarm: Alarm, state: str, reason: str, reason_data: str | None, now: float) -> None:
        old = alarm.state
        changed = Alarm(alarm.region, alarm.name, alarm.config, state, reason, reason_data, now,
                        now if state != old else alarm.transitioned, alarm.configured)
        data = json.dumps({"version": "1.0", "oldState": {"stateValue": old, "stateReason": alarm.reason},
                           "newState": {"stateValue": state, "stateReason": reason,
                                        **({"stateReasonData": json.loads(reason_data)} if reason_data else {})}})
        await self.save(changed, (alarm.name, now, "StateUpdate", f"Alarm updated from {old} to {state}", data))
        if self.alarms.get((alarm.region, alarm.name)) is alarm:
            self.alarms[(alarm.region, alarm.name)] = changed
        if state != old and changed.actions_enabled:
            await self._act(changed, old, now)

    async def _act(self, alarm: Alarm, old: str, now: float) -> None:
        topics = self.ports.topics
        for action in alarm.actions_for(alarm.state):
            try:
                if action.startswith(SCALING):
                    await self._scale(alarm, action)
                    summary, outcome = f"Successfully executed action {action}", "Succeeded"
                    data = json.dumps({"actionState": outcome, "notificationResource": action,
                                       "stateUpdateTimestamp": int(alarm.state_updated * 1000)})
                    await self.store.put_alarm(alarm.region, alarm.name, json.dumps(alarm.config),
                                               json.dumps(alarm.state_doc()), (alarm.name, now, "Action", summary, data))
                    continue
                if topics is None:
                    raise RuntimeError("this build serves no SNS")
                if not self._may_publish(alarm, action):
                    raise RuntimeError(f'"CloudWatch Alarms is not authorized to perform: SNS:Publish on '
                                       f'resource:{action}"')
                await topics.publish_internal(action, notify.message(alarm, old, self.account),
                                              notify.subject(alarm, alarm.state))
                summary, outcome = f"Successfully executed action {action}", "Succeeded"
            except Exception as exc:  # a deleted topic: recorded, as AWS records a failed action
                summary, outcome = f"Failed to execute action {action}. Received error: {exc}", "Failed"
            data = json.dumps({"actionState": outcome, "notificationResource": action, "stateUpdateTimestamp":
                               int(alarm.state_updated * 1000)})
            await self.store.put_alarm(alarm.region, alarm.name, json.dumps(alarm.config),
                                       json.dumps(alarm.state_doc()), (alarm.name, now, "Action", summary, data))

    def _may_publish(self, alarm: Alarm, topic_arn: str) -> bool:
        """Whether the topic's policy lets CloudWatch publish for this alarm (`--iam report|enforce`), judged
        at each action as SNS judges every publish. CloudWatch publishes as cloudwatch.amazonaws.com with
        aws:SourceArn (the alarm), aws:SourceAccount and AWS:SourceOwner, so a topic's default policy (the
        account, by AWS:SourceOwner) lets it; a policy that replaced it must allow the service
        (https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-use-cases.html: "aws:SourceAccount
        versus aws:SourceOwner"). A refused action is recorded as failed in the alarm's history, in
        CloudWatch's words."""
        access = self.ports.access
        if access is None or not access.active:
            return True
        return access.service_may("cloudwatch.amazonaws.com", "sns:Publish", topic_arn, alarm.arn(self.account),
                                  self.account, {"aws:SourceOwner": self.account})

    async def _scale(self, alarm: Alarm, action: str) -> None:
        """Run an Auto Scaling policy with the alarm's last judged value (step scaling picks its step by it,
        target tracking scales in proportion to it)."""
        scaling = self.ports.scaling
        if scaling is None:
            raise RuntimeError("this build serves no Auto Scaling")
        recent = json.loads(alarm.reason_data).get("recentDatapoints") if alarm.reason_data else None
        value = float(recent[-1]) if recent else None
        await scaling.alarm_action(action, AlarmFiring(alarm.name, alarm.arn(self.account), alarm.state, value,
                                                       float(alarm.config.get("Threshold") or 0.0)))

    async def _repeat_scaling(self, alarm: Alarm) -> None:
        """Alarms invoke Auto Scaling actions again each period they stay in their state (SNS actions only on
        a change): https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html"""
        if not alarm.actions_enabled:
            return
        for action in alarm.actions_for(alarm.state):
            if action.startswith(SCALING):
                try:
                    await self._scale(alarm, action)
                except Exception as exc:
                    log.warning("alarm %s could not run %s: %s", alarm.name, action, exc)

    # -- evaluation ----------------------------------------------------------------------------------------
    async def evaluate_all(self, now: float) -> None:
        for alarm in list(self.alarms.values()):
            try:
                verdict = judge(alarm, self._periods(alarm, now), now)
            except Exception:
                log.exception("evaluating alarm %s failed", alarm.name)
                continue
            if verdict is not None and self._changes(alarm, verdict):
                await self.change_state(alarm, verdict.state, verdict.reason, json.dumps(verdict.reason_data), now)
            elif verdict is not None and verdict.state == alarm.state:
                alarm.reason_data = json.dumps(verdict.reason_data)  # the value the repeated action sees
                await self._repeat_scaling(alarm)
        await self.store.expire_history(now - HISTORY_KEPT)

    @staticmethod
    def _changes(alarm: Alarm, verdict: Verdict) -> bool:
        return verdict.state != alarm.state

    def _periods(self, alarm: Alarm, now: float) -> list[tuple[int, float | None]]:
        c = alarm.config
        period = int(c.get("Period") or next((m["MetricStat"]["Period"] for m in c.get("Metrics") or []
                                              if m.get("MetricStat")), 60))
        end = int(now // period * period)
        start = end - period * int(c["EvaluationPeriods"])
        if c.get("Metrics"):
            series = self.math(c, start, end, alarm.region)
            return [(ts, series.get(ts)) for ts in range(start, end, period)]
        metric = self.catalog.find(alarm.region, c["Namespace"], c["MetricName"], dims_key(c.get("Dimensions")))
        stat = c.get("Statistic") or c["ExtendedStatistic"]
        found: dict[int, Bucket] = buckets(self.store, [metric] if metric else [], start, end, period, c.get("Unit"),
                                           stat not in ("SampleCount", "Sum", "Average", "Minimum", "Maximum"))
        return [(ts, found[ts].stat(stat) if ts in found else None) for ts in range(start, end, period)]
