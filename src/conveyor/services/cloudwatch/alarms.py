"""Metric alarms: their settings, their evaluation on the server's clock, and what a state change does.

https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html
- Each minute (after the minute's metrics are stored) every alarm looks at its last EvaluationPeriods
  complete periods: ALARM when at least DatapointsToAlarm of them breach the threshold, OK when they do
  not, INSUFFICIENT_DATA when all are missing; TreatMissingData says what a missing period counts as
  (missing, ignore: keep the state, breaching, notBreaching).
- A state change is recorded in the alarm's history and, with actions enabled, published to the SNS
  topics of the new state with AWS's alarm message (conveyor.services.cloudwatch.notify).
- Alarms on periods under a minute are evaluated each minute, not every 10 seconds as on AWS.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from conveyor.services.cloudwatch import errors
from conveyor.services.cloudwatch.series import check_period
from conveyor.services.cloudwatch.statistics import STATISTICS, check_stat, percentile_of

STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")
OPERATORS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "GreaterThanOrEqualToThreshold": (lambda v, t: v >= t, "greater than or equal to"),
    "GreaterThanThreshold": (lambda v, t: v > t, "greater than"),
    "LessThanThreshold": (lambda v, t: v < t, "less than"),
    "LessThanOrEqualToThreshold": (lambda v, t: v <= t, "less than or equal to"),
}
MISSING_DATA = ("missing", "ignore", "breaching", "notBreaching")
MAX_EVALUATION_SECONDS = 7 * 86400  # Period x EvaluationPeriods


def iso(ts: float) -> str:
    """AWS's timestamps in alarm reasons and messages: 2025-05-01T12:00:00.000+0000."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


@dataclass
class Alarm:
    region: str
    name: str
    config: dict[str, Any]  # PutMetricAlarm's parameters, as given (timestamps as epoch seconds)
    state: str = "INSUFFICIENT_DATA"
    reason: str = "Unchecked: Initial alarm creation"
    reason_data: str | None = None
    state_updated: float = 0.0
    transitioned: float = 0.0
    configured: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def arn(self, account: str) -> str:
        return f"arn:aws:cloudwatch:{self.region}:{account}:alarm:{self.name}"

    @property
    def actions_enabled(self) -> bool:
        return bool(self.config.get("ActionsEnabled", True))

    def actions_for(self, state: str) -> list[str]:
        key = {"OK": "OKActions", "ALARM": "AlarmActions", "INSUFFICIENT_DATA": "InsufficientDataActions"}[state]
        return list(self.config.get(key) or [])

    def state_doc(self) -> dict[str, Any]:
        return {"state": self.state, "reason": self.reason, "reason_data": self.reason_data,
                "state_updated": self.state_updated, "transitioned": self.transitioned, "configured": self.configured}

    @classmethod
    def load(cls, region: str, name: str, config: str, state: str) -> Alarm:
        doc = json.loads(state)
        return cls(region, name, json.loads(config), doc["state"], doc["reason"], doc.get("reason_data"),
                   doc["state_updated"], doc["transitioned"], doc["configured"])

    def describe(self, account: str) -> dict[str, Any]:
        c = self.config
        out: dict[str, Any] = {
            "AlarmName": self.name, "AlarmArn": self.arn(account), "ActionsEnabled": self.actions_enabled,
            "OKActions": c.get("OKActions") or [], "AlarmActions": c.get("AlarmActions") or [],
            "InsufficientDataActions": c.get("InsufficientDataActions") or [],
            "AlarmConfigurationUpdatedTimestamp": self.configured, "StateValue": self.state,
            "StateReason": self.reason, "StateUpdatedTimestamp": self.state_updated,
            "StateTransitionedTimestamp": self.transitioned, "EvaluationPeriods": c["EvaluationPeriods"],
            "Threshold": c.get("Threshold"), "ComparisonOperator": c["ComparisonOperator"],
            "TreatMissingData": c.get("TreatMissingData") or "missing",
        }
        if self.reason_data:
            out["StateReasonData"] = self.reason_data
        for key in ("AlarmDescription", "MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Period",
                    "Unit", "DatapointsToAlarm", "EvaluateLowSampleCountPercentile", "Metrics"):
            if c.get(key) is not None:
                out[key] = c[key]
        if c.get("MetricName"):
            out["Dimensions"] = c.get("Dimensions") or []
        return out


def check_config(params: dict[str, Any]) -> dict[str, Any]:
    """PutMetricAlarm's rules; returns the configuration to keep."""
    metrics = params.get("Metrics")
    single = [k for k in ("MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Period", "Dimensions", "Unit")
              if params.get(k) is not None]
    if metrics and single:
        raise errors.invalid_combination(f"The parameters Metrics and {single[0]} are mutually exclusive.")
    if metrics:
        returned = [m for m in metrics if m.get("ReturnData", True)]
        if len(returned) != 1:
            raise errors.invalid_value("Exactly one element of the metrics list should return data.")
        for m in metrics:
            if m.get("MetricStat") is not None:
                check_period(m["MetricStat"]["Period"], "Metrics.member.MetricStat.Period")
                check_stat(m["MetricStat"]["Stat"], "Metrics.member.MetricStat.Stat")
        period = next((m["MetricStat"]["Period"] for m in metrics if m.get("MetricStat")), 60)
    else:
        for key in ("MetricName", "Namespace", "Period"):
            if params.get(key) is None:
                raise errors.missing(f"The parameter {key} is required.")
        statistic, extended = params.get("Statistic"), params.get("ExtendedStatistic")
        if (statistic is None) == (extended is None):
            raise errors.invalid_combination("Exactly one of the parameters Statistic or ExtendedStatistic must be "
                                             "specified.")
        if statistic is not None and statistic not in STATISTICS:
            raise errors.invalid_value(f"The value {statistic} for parameter Statistic is not valid.")
        if extended is not None and percentile_of(extended) is None:
            check_stat(extended, "ExtendedStatistic")
        period = params["Period"]
        check_period(period)
    if params.get("ThresholdMetricId") or _required(params, "ComparisonOperator") not in OPERATORS:
        raise errors.invalid_value("Conveyor evaluates static thresholds only: anomaly detection bands "
                                   "(ThresholdMetricId and the band operators) are not served.")
    if params.get("Threshold") is None:
        raise errors.missing("The parameter Threshold is required.")
    if params.get("EvaluationCriteria") is not None:
        raise errors.invalid_value("Conveyor does not evaluate PromQL alarms (EvaluationCriteria).")
    periods = _required(params, "EvaluationPeriods")
    to_alarm = params.get("DatapointsToAlarm")
    if to_alarm is not None and to_alarm > periods:
        raise errors.invalid_value("DatapointsToAlarm must be less than or equal to EvaluationPeriods.")
    if period * periods > MAX_EVALUATION_SECONDS:
        raise errors.invalid_value("The evaluation period (Period multiplied by EvaluationPeriods) must not exceed "
                                   "7 days.")
    treat = params.get("TreatMissingData")
    if treat is not None and treat not in MISSING_DATA:
        raise errors.invalid_value(f"The value {treat} for parameter TreatMissingData is invalid: use one of "
                                   f"{', '.join(MISSING_DATA)}.")
    for key in ("OKActions", "AlarmActions", "InsufficientDataActions"):
        for action in params.get(key) or []:
            if not action.startswith(("arn:aws:sns:", "arn:aws:autoscaling:")):
                raise errors.invalid_value(f"Invalid action {action} in {key}: Conveyor runs alarm actions that "
                                           "notify SNS topics (arn:aws:sns:...) or run Auto Scaling policies "
                                           "(arn:aws:autoscaling:...), not EC2 or Systems Manager actions.")
    config = {k: v for k, v in params.items() if v is not None and k != "Tags"}
    kept: dict[str, Any] = json.loads(json.dumps(config, default=str))
    return kept


@dataclass
class Verdict:
    state: str
    reason: str
    reason_data: dict[str, Any]


def judge(alarm: Alarm, values: list[tuple[int, float | None]], now: float) -> Verdict | None:
    """The state the last periods call for (oldest first, None for a missing period); None: keep it."""
    c = alarm.config
    test, words = OPERATORS[c["ComparisonOperator"]]
    threshold = float(c["Threshold"])
    treat = c.get("TreatMissingData") or "missing"
    periods = c["EvaluationPeriods"]
    needed = c.get("DatapointsToAlarm") or periods
    present = [(ts, v) for ts, v in values if v is not None]
    statistic = c.get("Statistic") or c.get("ExtendedStatistic") or ""
    data = {"version": "1.0", "queryDate": iso(now), "statistic": statistic, "period": c.get("Period", 60),
            "recentDatapoints": [v for _, v in present], "threshold": threshold,
            "evaluatedDatapoints": [{"timestamp": iso(ts), "value": v} for ts, v in reversed(present)]}
    if values:
        data["startDate"] = iso(values[0][0])
    missing = len(values) - len(present)
    if not present and treat in ("missing", "ignore"):
        if treat == "ignore":
            return None
        unknown = f"{missing} datapoint{'s were' if missing != 1 else ' was'} unknown"
        return Verdict("INSUFFICIENT_DATA", f"Insufficient Data: {unknown}.", data)
    breaching = sum(1 for _, v in present if test(v, threshold))
    if treat == "breaching":
        breaching += missing
    shown = ", ".join(f"{v:g} ({dt.datetime.fromtimestamp(ts, dt.UTC).strftime('%d/%m/%y %H:%M:%S')})"
                      for ts, v in reversed(present))
    considered = len(values) if treat in ("breaching", "notBreaching") else len(present)
    if breaching >= needed:
        state = "ALARM"
        reason = (f"Threshold Crossed: {breaching} out of the last {considered} datapoints [{shown}] "
                  f"{'was' if breaching == 1 else 'were'} {words} the threshold ({threshold:g}) (minimum {needed} "
                  f"datapoint{'s' if needed != 1 else ''} for OK -> ALARM transition).")
    else:
        state = "OK"
        reason = (f"Threshold Crossed: {considered - breaching} out of the last {considered} datapoints [{shown}] "
                  f"{'was' if considered - breaching == 1 else 'were'} not {words} the threshold ({threshold:g}) "
                  f"(minimum {considered - needed + 1} datapoint{'s' if considered - needed else ''} for "
                  "ALARM -> OK transition).")
    return Verdict(state, reason, data)


def _required(params: dict[str, Any], name: str) -> Any:
    """Members the current model leaves optional (PromQL alarms need none of them) that a metric alarm
    must still carry."""
    value = params.get(name)
    if value is None:
        raise errors.missing(f"The parameter {name} is required.")
    return value
