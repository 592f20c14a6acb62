"""A schedule: its settings checked, and when it runs.
https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html and
https://docs.aws.amazon.com/scheduler/latest/APIReference/API_CreateSchedule.html

- `at(yyyy-mm-ddThh:mm:ss)` runs once, `rate(...)` every period from StartDate (or from its creation),
  `cron(...)` at its times; at and cron are read in ScheduleExpressionTimezone (UTC by default).
- StartDate and EndDate bound the runs of rate and cron schedules.
- A FLEXIBLE time window runs each invocation at a random moment within MaximumWindowInMinutes after its
  time, as Scheduler spreads invocations; OFF runs them at their time.
- ActionAfterCompletion DELETE deletes the schedule after its last invocation.
- Targets: functions, queues (FIFO ones need SqsParameters.MessageGroupId), topics and event buses
  (EventBridgeParameters), invoked with the schedule's execution role (RoleArn). Universal targets
  (`arn:aws:scheduler:::aws-sdk:...`) and the other templated ones are refused.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from conveyor.services import schedule_expressions as expressions
from conveyor.services.scheduler import errors
from conveyor.services.scheduler.store import ScheduleRow

SERVED_TARGETS = ("lambda", "sqs", "sns", "events")
UNSERVED_PARAMETERS = ("EcsParameters", "KinesisParameters", "SageMakerPipelineParameters")
_EPSILON = 1e-6


def schedule_arn(region: str, account: str, group: str, name: str) -> str:
    return f"arn:aws:scheduler:{region}:{account}:schedule/{group}/{name}"


def group_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:scheduler:{region}:{account}:schedule-group/{name}"


def target_kind(arn: str) -> str | None:
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn" or not parts[5]:
        return None
    return parts[2]


def _stamp(value: Any) -> float | None:
    if value is None:
        return None
    return value.timestamp() if isinstance(value, dt.datetime) else float(value)


def check(params: Mapping[str, Any], is_fifo: Callable[[str], bool | None]) -> dict[str, Any]:
    """CreateSchedule's or UpdateSchedule's settings, checked; the spec to store (timestamps as seconds)."""
    if params.get("KmsKeyArn"):
        raise errors.not_served("KmsKeyArn (Conveyor serves no KMS)")
    expression = params["ScheduleExpression"]
    try:
        expressions.parse(expression, allow_at=True)
    except expressions.ExpressionError:
        raise errors.validation(f"Invalid Schedule Expression {expression}.")
    zone = params.get("ScheduleExpressionTimezone") or "UTC"
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise errors.validation(f"Invalid ScheduleExpressionTimezone {zone}.")
    start, end = _stamp(params.get("StartDate")), _stamp(params.get("EndDate"))
    if start is not None and end is not None and end <= start:
        raise errors.validation("The StartDate must be before the EndDate.")
    window = dict(params["FlexibleTimeWindow"])
    if window["Mode"] == "FLEXIBLE" and not window.get("MaximumWindowInMinutes"):
        raise errors.validation("MaximumWindowInMinutes must be provided when the FlexibleTimeWindow Mode is "
                                "FLEXIBLE.")
    if window["Mode"] == "OFF" and window.get("MaximumWindowInMinutes"):
        raise errors.validation("MaximumWindowInMinutes must not be provided when the FlexibleTimeWindow Mode is "
                                "OFF.")
    target = {k: v for k, v in dict(params["Target"]).items() if v is not None}
    _check_target(target, is_fifo)
    spec: dict[str, Any] = {"ScheduleExpression": expression, "ScheduleExpressionTimezone": zone,
                            "FlexibleTimeWindow": window, "Target": target,
                            "State": params.get("State") or "ENABLED",
                            "ActionAfterCompletion": params.get("ActionAfterCompletion") or "NONE"}
    if params.get("Description") is not None:
        spec["Description"] = params["Description"]
    if start is not None:
        spec["StartDate"] = start
    if end is not None:
        spec["EndDate"] = end
    return spec


def _check_target(target: Mapping[str, Any], is_fifo: Callable[[str], bool | None]) -> None:
    arn = target["Arn"]
    kind = target_kind(arn)
    if kind is None:
        raise errors.validation(f"Invalid target arn {arn}.")
    if kind not in SERVED_TARGETS:
        raise errors.not_served(f"Targets of the service '{kind}' ({arn})")
    for name in UNSERVED_PARAMETERS:
        if target.get(name) is not None:
            raise errors.not_served(name)
    if kind == "sqs" and is_fifo(arn) and not (target.get("SqsParameters") or {}).get("MessageGroupId"):
        raise errors.validation("Target SqsParameters.MessageGroupId is required for a FIFO queue target.")
    if kind == "events" and not target.get("EventBridgeParameters"):
        raise errors.validation("Target EventBridgeParameters is required for an event bus target.")
    dead_letter = (target.get("DeadLetterConfig") or {}).get("Arn")
    if dead_letter is not None and target_kind(dead_letter) != "sqs":
        raise errors.validation(f"Invalid DeadLetterConfig arn {dead_letter}.")


@dataclass
class Schedule:
    row: ScheduleRow
    expression: expressions.Expression
    # Which save of the schedule this is (in memory): a run handed to a firing belongs to one version, and
    # a change made meanwhile (even within the same clock instant) makes it stale.
    version: int = 0

    @classmethod
    def of(cls, row: ScheduleRow, version: int = 0) -> Schedule:
        return cls(row, expressions.parse(row.spec["ScheduleExpression"], allow_at=True), version)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.row.region, self.row.group, self.row.name)

    @property
    def enabled(self) -> bool:
        return self.row.spec.get("State") != "DISABLED"

    def arn(self, account: str) -> str:
        return schedule_arn(self.row.region, account, self.row.group, self.row.name)

    def first_since(self) -> float:
        """The moment after which the next run lies: the last run, or (never run since it was made or last
        updated) just before then, so that a rate schedule's first run falls at once: "If you don't provide
        a StartDate for a rate-based schedule, your schedule starts invoking the target immediately."
        https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html#rate-based"""
        if self.row.last_fired is not None:
            return self.row.last_fired
        return self.row.modified - _EPSILON

    def next_run(self, after: float) -> float | None:
        """The first run strictly after `after`, from StartDate and before EndDate; None when there is none.
        A rate counts its periods from StartDate (its first run), else from when the schedule was made or
        last updated; EndDate is "the date before which the schedule can invoke its target"
        (https://docs.aws.amazon.com/scheduler/latest/APIReference/API_CreateSchedule.html)."""
        spec = self.row.spec
        zone = spec.get("ScheduleExpressionTimezone") or "UTC"
        if isinstance(self.expression, expressions.At):  # StartDate and EndDate do not apply to at()
            return expressions.next_time(self.expression, after, self.row.created, zone)
        start, end = spec.get("StartDate"), spec.get("EndDate")
        anchor = start if start is not None else self.row.modified
        if start is not None:
            after = max(after, start - _EPSILON)
        when = expressions.next_time(self.expression, after, anchor, zone)
        if when is None or (end is not None and when >= end):
            return None
        return when

    def delay(self) -> float:
        """Seconds a FLEXIBLE window puts an invocation off (a random share of the window)."""
        window = self.row.spec.get("FlexibleTimeWindow") or {}
        if window.get("Mode") != "FLEXIBLE":
            return 0.0
        return random.random() * float(window.get("MaximumWindowInMinutes") or 0) * 60
