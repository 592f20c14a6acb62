"""The pipeline's worker pools as Auto Scaling groups: the second face of the one supervision engine.

A pool (conveyor.runtime.pool) is described as a group named after it, tagged `conveyor:pool`, whose
instances are its workers; `aws autoscaling set-desired-capacity` scales it as `conveyor workers scale`
does, and TerminateInstanceInAutoScalingGroup drains a worker (with or without lowering the desired
capacity). Its settings belong to the pipeline file, so updating, deleting or suspending it through the
API is refused with a message saying so.
"""

from __future__ import annotations

import uuid
from typing import Any

from conveyor.ports import Ports
from conveyor.services.autoscaling import errors
from conveyor.services.autoscaling.groups import utc

LIFECYCLE = {"starting": "Pending", "in-service": "InService", "terminating": "Terminating",
             "unhealthy": "Terminating"}


class PoolFace:
    def __init__(self, ports: Ports) -> None:
        self.ports = ports

    def has(self, name: str) -> bool:
        pools = self.ports.pools
        return pools is not None and any(p.name == name for p in pools.pool_views())

    def refuse_change(self, name: str) -> None:
        if self.has(name):
            raise errors.validation(f"{name} is a worker pool of the pipeline file: change it there (or with "
                                    "`conveyor workers scale`); through this API it can only be described, scaled "
                                    "with SetDesiredCapacity and have instances terminated.")

    def describe(self, region: str, now: float) -> list[dict[str, Any]]:
        pools = self.ports.pools
        if pools is None:
            return []
        out = []
        for pool in pools.pool_views():
            if pool.region != region:
                continue
            out.append({
                "AutoScalingGroupName": pool.name, "MinSize": pool.min, "MaxSize": pool.max,
                "DesiredCapacity": pool.desired, "DefaultCooldown": 300, "AvailabilityZones": [f"{region}a"],
                "HealthCheckType": "EC2", "HealthCheckGracePeriod": 0, "CreatedTime": now,
                "Tags": [{"ResourceId": pool.name, "ResourceType": "auto-scaling-group", "Key": "conveyor:pool",
                          "Value": pool.name, "PropagateAtLaunch": False}],
                "TerminationPolicies": ["NewestInstance"], "SuspendedProcesses": [], "EnabledMetrics": [],
                "NewInstancesProtectedFromScaleIn": False, "LoadBalancerNames": [], "TargetGroupARNs": [],
                "Instances": [{"InstanceId": worker, "InstanceType": "local-process",
                               "AvailabilityZone": f"{region}a", "LifecycleState": LIFECYCLE.get(state, "InService"),
                               "HealthStatus": "Unhealthy" if state == "unhealthy" else "Healthy",
                               "ProtectedFromScaleIn": False} for worker, state in pool.workers],
            })
        return out

    async def set_desired(self, name: str, desired: int) -> None:
        pools = self.ports.pools
        assert pools is not None
        try:
            await pools.set_pool_desired(name, desired)
        except ValueError as exc:
            raise errors.validation(str(exc))

    async def stop_worker(self, region: str, worker_id: str, decrement: bool, now: float) -> dict[str, Any] | None:
        pools = self.ports.pools
        if pools is None or not any(worker_id == w for p in pools.pool_views() for w, _ in p.workers):
            return None
        try:
            name = await pools.stop_worker(worker_id, decrement)
        except ValueError as exc:
            raise errors.validation(str(exc))
        if name is None:
            return None
        return {"ActivityId": str(uuid.uuid4()), "AutoScalingGroupName": name,
                "Description": f"Terminating EC2 instance: {worker_id}",
                "Cause": f"At {utc(now)} instance {worker_id} was taken out of service in response to a user request.",
                "StartTime": now, "StatusCode": "InProgress", "Progress": 0, "Details": "{}"}
