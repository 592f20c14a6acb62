"""Auto Scaling groups behind load balancers: AttachLoadBalancerTargetGroups, DetachLoadBalancerTargetGroups
and DescribeLoadBalancerTargetGroups, written on a mixin of the service; the supervisor registers and
deregisters the members (conveyor.services.autoscaling.supervisor), Elastic Load Balancing answers through
conveyor.ports.TargetGroups.

https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_AttachLoadBalancerTargetGroups.html: at most 10
target groups a call; a target group that does not exist is a ValidationError. A target group's State in
DescribeLoadBalancerTargetGroups: Added once attached, InService once an instance passes its health checks
(https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_LoadBalancerTargetGroupState.html).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conveyor.ports import Ports
from conveyor.services.autoscaling import errors
from conveyor.services.autoscaling.groups import Group
from conveyor.services.autoscaling.pools import PoolFace
from conveyor.services.autoscaling.store import AutoScalingStore
from conveyor.services.autoscaling.supervisor import Supervisor
from conveyor.wire import RequestContext

if TYPE_CHECKING:
    from mypy_boto3_autoscaling.type_defs import (
        AttachLoadBalancerTargetGroupsTypeTypeDef,
        DescribeLoadBalancerTargetGroupsRequestTypeDef,
        DetachLoadBalancerTargetGroupsTypeTypeDef,
    )

MAX_PER_CALL = 10


class LoadBalancingOperations:
    """Mixed into AutoScalingService, which provides what is declared here."""

    ports: Ports
    pools: PoolFace

    def _parts(self) -> tuple[AutoScalingStore, Supervisor]:
        raise NotImplementedError

    def _group(self, region: str, name: str) -> Group:
        raise NotImplementedError

    async def _save(self, group: Group, acts: list[dict[str, Any]] | None = None) -> None:
        raise NotImplementedError

    def check_target_groups(self, region: str, arns: list[str]) -> None:
        if not arns:
            return
        target_groups = self.ports.target_groups
        if target_groups is None or not all(target_groups.target_group_exists(region, arn) for arn in arns):
            raise errors.validation("Provided Target Groups may not be valid. Please ensure they exist and try again.")

    async def AttachLoadBalancerTargetGroups(self, ctx: RequestContext, params: AttachLoadBalancerTargetGroupsTypeTypeDef,
                                             ) -> dict[str, Any]:
        await self._change(ctx.region, params["AutoScalingGroupName"], list(params["TargetGroupARNs"]), attach=True)
        return {}

    async def DetachLoadBalancerTargetGroups(self, ctx: RequestContext, params: DetachLoadBalancerTargetGroupsTypeTypeDef,
                                             ) -> dict[str, Any]:
        await self._change(ctx.region, params["AutoScalingGroupName"], list(params["TargetGroupARNs"]), attach=False)
        return {}

    async def _change(self, region: str, name: str, arns: list[str], attach: bool) -> None:
        self.pools.refuse_change(name)
        group = self._group(region, name)
        if len(arns) > MAX_PER_CALL:
            raise errors.validation(f"The number of target groups in a request cannot exceed {MAX_PER_CALL}.")
        if attach:
            self.check_target_groups(region, arns)
        async with group.lock:
            current = list(group.doc.get("TargetGroupARNs") or [])
            if attach:
                current += [arn for arn in arns if arn not in current]
            else:
                current = [arn for arn in current if arn not in arns]
            group.doc = {**group.doc, "TargetGroupARNs": current}
            await self._save(group)
        await self._parts()[1].reconcile(group)

    async def DescribeLoadBalancerTargetGroups(self, ctx: RequestContext,
                                               params: DescribeLoadBalancerTargetGroupsRequestTypeDef) -> dict[str, Any]:
        name = params["AutoScalingGroupName"]
        if self.pools.has(name):
            return {"LoadBalancerTargetGroups": []}
        group = self._group(ctx.region, name)
        target_groups = self.ports.target_groups
        out = []
        for arn in group.doc.get("TargetGroupARNs") or []:
            serving = target_groups is not None and any(
                target_groups.instance_state(ctx.region, arn, instance_id) == "healthy" for instance_id in group.members)
            out.append({"LoadBalancerTargetGroupARN": arn, "State": "InService" if serving else "Added"})
        return {"LoadBalancerTargetGroups": out}
