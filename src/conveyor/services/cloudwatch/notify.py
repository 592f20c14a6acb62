"""The message an alarm sends its SNS topics when its state changes, field for field as AWS sends it.
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#alarms-and-actions
"""

from __future__ import annotations

import json
from typing import Any

from conveyor.services.cloudwatch.alarms import Alarm, iso

# The Region field names the region as the console does.
REGION_NAMES = {
    "us-east-1": "US East (N. Virginia)", "us-east-2": "US East (Ohio)", "us-west-1": "US West (N. California)",
    "us-west-2": "US West (Oregon)", "eu-west-1": "EU (Ireland)", "eu-west-2": "EU (London)",
    "eu-west-3": "EU (Paris)", "eu-central-1": "EU (Frankfurt)", "eu-north-1": "EU (Stockholm)",
    "ap-south-1": "Asia Pacific (Mumbai)", "ap-northeast-1": "Asia Pacific (Tokyo)",
    "ap-northeast-2": "Asia Pacific (Seoul)", "ap-southeast-1": "Asia Pacific (Singapore)",
    "ap-southeast-2": "Asia Pacific (Sydney)", "ca-central-1": "Canada (Central)",
    "sa-east-1": "South America (Sao Paulo)",
}


def subject(alarm: Alarm, state: str) -> str:
    text = f'{state}: "{alarm.name}" in {REGION_NAMES.get(alarm.region, alarm.region)}'
    return text[:100]  # SNS subjects are at most 100 characters


def message(alarm: Alarm, old_state: str, account: str) -> str:
    c = alarm.config
    doc: dict[str, Any] = {
        "AlarmName": alarm.name, "AlarmDescription": c.get("AlarmDescription"), "AWSAccountId": account,
        "AlarmConfigurationUpdatedTimestamp": iso(alarm.configured), "NewStateValue": alarm.state,
        "NewStateReason": alarm.reason, "StateChangeTime": iso(alarm.state_updated),
        "Region": REGION_NAMES.get(alarm.region, alarm.region), "AlarmArn": alarm.arn(account),
        "OldStateValue": old_state, "OKActions": c.get("OKActions") or [],
        "AlarmActions": c.get("AlarmActions") or [], "InsufficientDataActions": c.get("InsufficientDataActions") or [],
        "Trigger": _trigger(c),
    }
    return json.dumps(doc)


def _trigger(c: dict[str, Any]) -> dict[str, Any]:
    common = {"Period": c.get("Period", 60), "EvaluationPeriods": c["EvaluationPeriods"],
              "DatapointsToAlarm": c.get("DatapointsToAlarm") or c["EvaluationPeriods"],
              "ComparisonOperator": c["ComparisonOperator"], "Threshold": float(c["Threshold"]),
              "TreatMissingData": c.get("TreatMissingData") or "missing", "EvaluateLowSampleCountPercentile":
              c.get("EvaluateLowSampleCountPercentile") or ""}
    if c.get("Metrics"):
        metrics = [{"Id": m["Id"], **({"Expression": m["Expression"]} if m.get("Expression") else {}),
                    **({"MetricStat": m["MetricStat"]} if m.get("MetricStat") else {}),
                    "ReturnData": m.get("ReturnData", True)} for m in c["Metrics"]]
        return {"Metrics": metrics, **common}
    statistic = c.get("Statistic")
    trigger: dict[str, Any] = {
        "MetricName": c["MetricName"], "Namespace": c["Namespace"],
        "StatisticType": "Statistic" if statistic else "ExtendedStatistic",
        "Statistic" if statistic else "ExtendedStatistic": statistic.upper() if statistic else c["ExtendedStatistic"],
        "Unit": c.get("Unit"),
        "Dimensions": [{"value": d["Value"], "name": d["Name"]} for d in c.get("Dimensions") or []],
    }
    return {**trigger, **common}
