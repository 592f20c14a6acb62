"""Scaling policies: simple and step scaling run by CloudWatch alarms, and target tracking, whose alarms
Auto Scaling makes itself in CloudWatch.

- Simple scaling: one adjustment, then the cooldown (the policy's, else the group's DefaultCooldown)
  before the next simple scaling runs (https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-scaling-simple-step.html).
- Step scaling: the step whose bounds hold the breach (the alarm's value minus its threshold) gives the
  adjustment; an alarm keeps invoking it each minute it stays in ALARM, as CloudWatch does for Auto
  Scaling actions (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html).
- Target tracking on a customized metric (a metric or metric math, such as AWS's backlog per instance:
  visible messages / GroupInServiceInstances, https://docs.aws.amazon.com/autoscaling/ec2/userguide/
  as-using-sqs-queue.html): two alarms, TargetTracking-GROUP-AlarmHigh-ID (the metric above the target
  for 3 minutes) and ...-AlarmLow-ID (below 90% of it for 15 minutes), set the capacity in proportion:
  ceil(in-service capacity x value / target).
- A scale-out by a step or target tracking policy waits for the instances of the previous one to warm up
  (the policy's EstimatedInstanceWarmup, else the group's DefaultInstanceWarmup, else its DefaultCooldown).
  https://docs.aws.amazon.com/autoscaling/ec2/userguide/target-tracking-scaling-policy-overview.html
  Predefined metrics (CPU, network, load balancer requests) are refused: instances here publish none.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

from conveyor.ports import AlarmFiring, AlarmKeeper
from conveyor.services.autoscaling import errors
from conveyor.services.autoscaling.groups import Group, adjusted, utc

POLICY_TYPES = ("SimpleScaling", "StepScaling", "TargetTrackingScaling")
ADJUSTMENTS = ("ChangeInCapacity", "ExactCapacity", "PercentChangeInCapacity")
HIGH_PERIODS, LOW_PERIODS, LOW_RATIO = 3, 15, 0.9


def policy_arn(region: str, account: str, group: str, name: str) -> str:
    return (f"arn:aws:autoscaling:{region}:{account}:scalingPolicy:{uuid.uuid4()}:autoScalingGroupName/{group}:"
            f"policyName/{name}")


def check(params: dict[str, Any]) -> str:
    """PutScalingPolicy's rules; the policy type."""
    kind = params.get("PolicyType") or "SimpleScaling"
    if kind == "PredictiveScaling":
        raise errors.unsupported("predictive scaling")
    if kind not in POLICY_TYPES:
        raise errors.validation(f"Invalid policy type: {kind}")
    adjustment = params.get("AdjustmentType")
    if adjustment is not None and adjustment not in ADJUSTMENTS:
        raise errors.validation(f"Invalid adjustment type: {adjustment}")
    if kind == "SimpleScaling":
        if params.get("ScalingAdjustment") is None:
            raise errors.validation("ScalingAdjustment is required for a simple scaling policy.")
        if not adjustment:
            raise errors.validation("AdjustmentType is required for a simple scaling policy.")
    if kind == "StepScaling":
        steps = params.get("StepAdjustments")
        if not steps:
            raise errors.validation("StepAdjustments is required for a step scaling policy.")
        if not adjustment:
            raise errors.validation("AdjustmentType is required for a step scaling policy.")
        if params.get("Cooldown") is not None:
            raise errors.validation("Cooldown is not supported for a step scaling policy.")
    if kind == "TargetTrackingScaling":
        config = params.get("TargetTrackingConfiguration")
        if not config:
            raise errors.validation("TargetTrackingConfiguration is required for a target tracking scaling policy.")
        if config.get("PredefinedMetricSpecification"):
            raise errors.unsupported("predefined target tracking metrics (instances here publish no CPU or network "
                                     "metrics): use a CustomizedMetricSpecification")
        if not config.get("CustomizedMetricSpecification"):
            raise errors.validation("A target tracking scaling policy needs a metric specification.")
        if config["TargetValue"] <= 0:
            raise errors.validation("The target value must be greater than 0.")
    return kind


def _alarm_metric(spec: dict[str, Any]) -> dict[str, Any]:
    """PutMetricAlarm's metric members for a customized metric specification."""
    if spec.get("Metrics"):
        queries = []
        for query in spec["Metrics"]:
            out = {k: query[k] for k in ("Id", "Expression", "Label", "ReturnData") if query.get(k) is not None}
            stat = query.get("MetricStat")
            if stat is not None:
                out["MetricStat"] = {"Metric": stat["Metric"], "Stat": stat["Stat"], "Period": query.get("Period", 60)}
                if stat.get("Unit"):
                    out["MetricStat"]["Unit"] = stat["Unit"]
            queries.append(out)
        return {"Metrics": queries}
    out = {"Namespace": spec["Namespace"], "MetricName": spec["MetricName"],
           "Dimensions": spec.get("Dimensions") or [], "Statistic": spec.get("Statistic") or "Average",
           "Period": spec.get("Period", 60)}
    if spec.get("Unit"):
        out["Unit"] = spec["Unit"]
    return out


async def make_alarms(alarms: AlarmKeeper, region: str, group: str, arn: str, config: dict[str, Any],
                      ) -> list[dict[str, str]]:
    target = float(config["TargetValue"])
    metric = _alarm_metric(config["CustomizedMetricSpecification"])
    description = f"DO NOT EDIT OR DELETE. For TargetTrackingScaling policy {arn}."
    made = []
    kinds = [("AlarmHigh", HIGH_PERIODS, "GreaterThanThreshold", target)]
    if not config.get("DisableScaleIn"):
        kinds.append(("AlarmLow", LOW_PERIODS, "LessThanThreshold", target * LOW_RATIO))
    for kind, periods, operator, threshold in kinds:
        name = f"TargetTracking-{group}-{kind}-{uuid.uuid4()}"
        alarm_arn = await alarms.put_alarm(region, {
            "AlarmName": name, "AlarmDescription": description, "ActionsEnabled": True, "AlarmActions": [arn],
            "EvaluationPeriods": periods, "DatapointsToAlarm": periods, "Threshold": threshold,
            "ComparisonOperator": operator, "TreatMissingData": "missing", **metric})
        made.append({"AlarmName": name, "AlarmARN": alarm_arn})
    return made


def execute(group: Group, policy: dict[str, Any], firing: AlarmFiring | None, now: float,
            metric_value: float | None = None, breach: float | None = None) -> int | None:
    """The desired capacity the policy asks for now, or None when it does nothing (cooldown, no step)."""
    doc = group.doc
    low, high, current = int(doc["MinSize"]), int(doc["MaxSize"]), group.desired
    kind = policy["PolicyType"]
    if kind == "SimpleScaling":
        cooldown = policy.get("Cooldown", doc.get("DefaultCooldown", 300))
        if now - float(doc.get("_last_simple", -1e18)) < cooldown:
            return None
        doc["_last_simple"] = now
        return adjusted(current, policy["AdjustmentType"], float(policy["ScalingAdjustment"]), low, high,
                        policy.get("MinAdjustmentMagnitude"))
    wanted = _wanted(group, policy, firing, metric_value, breach)
    if wanted is None or wanted <= current:
        return wanted
    # A scale-out waits for the instances of the previous one to warm up: their effect is not in the
    # metric yet (https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-default-instance-warmup.html).
    warmup = policy.get("EstimatedInstanceWarmup") or doc.get("DefaultInstanceWarmup") or doc.get("DefaultCooldown", 300)
    if now - float(doc.get("_last_scale_out", -1e18)) < float(warmup):
        return None
    doc["_last_scale_out"] = now
    return wanted


def _wanted(group: Group, policy: dict[str, Any], firing: AlarmFiring | None, metric_value: float | None,
            breach: float | None) -> int | None:
    doc = group.doc
    low, high, current = int(doc["MinSize"]), int(doc["MaxSize"]), group.desired
    kind = policy["PolicyType"]
    if kind == "StepScaling":
        value = firing.value if firing is not None else metric_value
        threshold = firing.threshold if firing is not None else breach
        if value is None or threshold is None:
            return None
        difference = value - threshold
        for step in policy["StepAdjustments"]:
            lower, upper = step.get("MetricIntervalLowerBound"), step.get("MetricIntervalUpperBound")
            if (lower is None or difference >= lower) and (upper is None or difference < upper):
                return adjusted(current, policy["AdjustmentType"], float(step["ScalingAdjustment"]), low, high,
                                policy.get("MinAdjustmentMagnitude"))
        return None
    # target tracking
    if firing is None or firing.value is None:
        return None
    config = policy["TargetTrackingConfiguration"]
    target = float(config["TargetValue"])
    in_service = max(1, sum(1 for _, m in group.active()))
    proportional = math.ceil(in_service * firing.value / target)
    if "AlarmHigh" in firing.alarm_name:
        wanted = max(current, proportional)
    else:
        if config.get("DisableScaleIn"):
            return None
        wanted = min(current, max(proportional, 0))
    return max(low, min(high, wanted))


def cause(firing: AlarmFiring | None, policy: dict[str, Any], before: int, after: int, now: float) -> str:
    if firing is None:
        return (f"At {utc(now)} a user request executed policy {policy['PolicyName']} changing the desired capacity "
                f"from {before} to {after}.")
    return (f"At {utc(now)} a monitor alarm {firing.alarm_name} in state {firing.state} triggered policy "
            f"{policy['PolicyName']} changing the desired capacity from {before} to {after}.")
