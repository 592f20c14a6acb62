"""An Auto Scaling group: its settings (as CreateAutoScalingGroup and UpdateAutoScalingGroup take them),
its members, and what DescribeAutoScalingGroups answers.
https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_CreateAutoScalingGroup.html
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import uuid
from dataclasses import dataclass, field
from typing import Any

from conveyor.runtime.workers import CrashLoop
from conveyor.services.autoscaling import errors

PROCESSES = ("Launch", "Terminate", "AddToLoadBalancer", "AlarmNotification", "AZRebalance", "HealthCheck",
             "InstanceRefresh", "ReplaceUnhealthy", "ScheduledActions")
TERMINATION_POLICIES = ("Default", "OldestInstance", "NewestInstance", "OldestLaunchTemplate",
                        "OldestLaunchConfiguration", "ClosestToNextInstanceHour")
GROUP_METRICS = ("GroupMinSize", "GroupMaxSize", "GroupDesiredCapacity", "GroupInServiceInstances",
                 "GroupPendingInstances", "GroupStandbyInstances", "GroupTerminatingInstances", "GroupTotalInstances",
                 "GroupInServiceCapacity", "GroupPendingCapacity", "GroupStandbyCapacity",
                 "GroupTerminatingCapacity", "GroupTotalCapacity")
DEFAULT_COOLDOWN = 300
# Settings Conveyor cannot honour: refused, never ignored.
REFUSED = {
    "LaunchConfigurationName": "launch configurations (use a launch template)",
    "MixedInstancesPolicy": "mixed instances policies", "InstanceId": "groups made from an instance",
    "LoadBalancerNames": "Classic Load Balancers",
    "TrafficSources": "traffic sources", "LifecycleHookSpecificationList": "lifecycle hooks",
    "PlacementGroup": "placement groups", "MaxInstanceLifetime": "a maximum instance lifetime",
    "CapacityRebalance": "capacity rebalancing", "InstanceMaintenancePolicy": "instance maintenance policies",
    "CapacityReservationSpecification": "capacity reservations", "WarmPoolConfiguration": "warm pools",
}


def utc(ts: float) -> str:
    """Times in activity causes: 2025-05-01T12:00:00Z."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def group_arn(region: str, account: str, name: str, group_id: str) -> str:
    return f"arn:aws:autoscaling:{region}:{account}:autoScalingGroup:{group_id}:autoScalingGroupName/{name}"


@dataclass
class Group:
    region: str
    name: str
    doc: dict[str, Any]  # settings in the model's names, plus "_members" and bookkeeping under "_" keys
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    crash_loop: CrashLoop = field(default_factory=CrashLoop)
    cause: str = ""  # why the desired capacity last changed, for the next activity's cause
    # Members gone since the last reconcile, with the target groups they were registered in.
    leaving: dict[str, list[str]] = field(default_factory=dict)

    @property
    def members(self) -> dict[str, dict[str, Any]]:
        members: dict[str, dict[str, Any]] = self.doc.setdefault("_members", {})
        return members

    @property
    def desired(self) -> int:
        return int(self.doc["DesiredCapacity"])

    def suspended(self, process: str) -> bool:
        return any(p["ProcessName"] == process for p in self.doc.get("SuspendedProcesses") or [])

    def active(self) -> list[tuple[str, dict[str, Any]]]:
        """Members that count toward capacity: pending or in service, and healthy."""
        return [(i, m) for i, m in self.members.items()
                if m["LifecycleState"] in ("Pending", "InService") and m["HealthStatus"] == "Healthy"]

    def describe(self) -> dict[str, Any]:
        out = {k: v for k, v in self.doc.items() if not k.startswith("_")}
        out["Instances"] = [{k: v for k, v in m.items() if not k.startswith("_")} | {"InstanceId": i}
                            for i, m in sorted(self.members.items())]
        return out

    def snapshot(self, now: float) -> dict[str, Any]:
        """The group as `conveyor workers` shows pools."""
        states = {"Pending": "starting", "InService": "in-service", "Terminating": "terminating"}
        return {"kind": "auto-scaling-group", "region": self.region, "desired": self.desired,
                "min": self.doc["MinSize"], "max": self.doc["MaxSize"],
                "state": "crash-looping" if self.crash_loop.looping else "ok",
                "crash_loop": {"quick_exits": self.crash_loop.quick_deaths,
                               "next_start_in": round(max(0.0, self.crash_loop.hold_until - now), 3)},
                "suspended": [p["ProcessName"] for p in self.doc.get("SuspendedProcesses") or []],
                "workers": [{"id": i, "pid": m.get("_pid") or "-",
                             "state": states.get(m["LifecycleState"], "terminating")
                             if m["HealthStatus"] == "Healthy" else "unhealthy",
                             "uptime": round(now - m.get("_launched", now), 1), "messages_done": "-"}
                            for i, m in sorted(self.members.items())]}


def new_group_doc(params: dict[str, Any], region: str, account: str, now: float,
                  template: dict[str, str], zones: list[str], subnets: list[str]) -> dict[str, Any]:
    name = params["AutoScalingGroupName"]
    low, high = params["MinSize"], params["MaxSize"]
    desired = params.get("DesiredCapacity")
    desired = low if desired is None else desired
    check_sizes(low, high, desired)
    doc: dict[str, Any] = {
        "AutoScalingGroupName": name, "AutoScalingGroupARN": group_arn(region, account, name, str(uuid.uuid4())),
        "LaunchTemplate": template, "MinSize": low, "MaxSize": high, "DesiredCapacity": desired,
        "DefaultCooldown": params.get("DefaultCooldown", DEFAULT_COOLDOWN), "AvailabilityZones": zones,
        "LoadBalancerNames": [], "TargetGroupARNs": list(params.get("TargetGroupARNs") or []),
        "HealthCheckType": params.get("HealthCheckType") or "EC2",
        "HealthCheckGracePeriod": params.get("HealthCheckGracePeriod", 0), "CreatedTime": now,
        "SuspendedProcesses": [], "VPCZoneIdentifier": ",".join(subnets), "EnabledMetrics": [],
        "Tags": [], "TerminationPolicies": params.get("TerminationPolicies") or ["Default"],
        "NewInstancesProtectedFromScaleIn": bool(params.get("NewInstancesProtectedFromScaleIn")),
        "ServiceLinkedRoleARN": f"arn:aws:iam::{account}:role/aws-service-role/autoscaling.amazonaws.com/"
                                "AWSServiceRoleForAutoScaling",
        "_members": {},
    }
    if params.get("DefaultInstanceWarmup") is not None:
        doc["DefaultInstanceWarmup"] = params["DefaultInstanceWarmup"]
    check_settings(params)
    return doc


def check_sizes(low: int, high: int, desired: int) -> None:
    if low > high:
        raise errors.validation(f"Max bound, {high}, must be greater than or equal to min bound, {low}")
    if desired > high:
        raise errors.validation(f"Desired capacity:{desired} must be between the specified min size:{low} and max "
                                f"size:{high}")
    if desired < low:
        raise errors.validation(f"Desired capacity:{desired} must be between the specified min size:{low} and max "
                                f"size:{high}")


def check_settings(params: dict[str, Any]) -> None:
    for key, what in REFUSED.items():
        if params.get(key):
            raise errors.unsupported(what)
    health = params.get("HealthCheckType")
    if health is not None and health not in ("EC2", "ELB", "VPC_LATTICE", "EBS"):
        raise errors.validation(f"Health check type {health} is not valid: use EC2 or ELB.")
    if health is not None and health not in ("EC2", "ELB"):
        raise errors.unsupported(f"{health} health checks: use EC2 or ELB")
    for policy in params.get("TerminationPolicies") or []:
        if policy not in TERMINATION_POLICIES:
            raise errors.unsupported(f"the termination policy {policy}")


def tags_of(given: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [{"ResourceId": name, "ResourceType": "auto-scaling-group", "Key": t["Key"], "Value": t.get("Value", ""),
             "PropagateAtLaunch": bool(t.get("PropagateAtLaunch", False))} for t in given]


def choose_victims(group: Group, count: int) -> list[str]:
    """Which members scale-in terminates: the default policy balances zones first (the zone with the most
    instances), then takes the oldest launch template version, then the instance launched first among
    equals; OldestInstance and NewestInstance order by launch time.
    https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-termination-policies.html"""
    chosen: list[str] = []
    policies = group.doc.get("TerminationPolicies") or ["Default"]
    for _ in range(count):
        candidates = [(i, m) for i, m in group.active() if i not in chosen and not m.get("ProtectedFromScaleIn")]
        if not candidates:
            break
        per_zone: dict[str, int] = {}
        for _, m in candidates:
            per_zone[m["AvailabilityZone"]] = per_zone.get(m["AvailabilityZone"], 0) + 1
        crowded = max(per_zone.values())
        candidates = [(i, m) for i, m in candidates if per_zone[m["AvailabilityZone"]] == crowded]
        if policies[0] == "NewestInstance":
            candidates.sort(key=lambda c: -c[1].get("_launched", 0.0))
        elif policies[0] == "OldestInstance":
            candidates.sort(key=lambda c: c[1].get("_launched", 0.0))
        else:
            candidates.sort(key=lambda c: (int(c[1].get("LaunchTemplate", {}).get("Version") or 0),
                                           c[1].get("_launched", 0.0)))
        chosen.append(candidates[0][0])
    return chosen


def adjusted(current: int, kind: str, adjustment: float, low: int, high: int, min_step: int | None) -> int:
    """The capacity an adjustment asks for, within [min, max].
    https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-scaling-simple-step.html#as-scaling-adjustment"""
    if kind == "ExactCapacity":
        wanted = int(adjustment)
    elif kind == "PercentChangeInCapacity":
        change = current * adjustment / 100.0
        step = math.floor(change) if change > 0 else math.ceil(change)  # rounded toward zero
        if step == 0 and adjustment != 0:
            step = 1 if adjustment > 0 else -1
        if min_step is not None and abs(step) < min_step:
            step = min_step if step > 0 else -min_step
        wanted = current + step
    else:
        wanted = current + int(adjustment)
    return max(low, min(high, wanted))
