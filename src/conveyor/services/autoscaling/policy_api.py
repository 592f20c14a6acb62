"""Auto Scaling's scaling policy operations (PutScalingPolicy, DescribePolicies, DeletePolicy, ExecutePolicy)
and running a policy, written on a mixin of the service; the rules are conveyor.services.autoscaling.policies."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conveyor.clock import Clock
from conveyor.ports import AlarmFiring, Ports
from conveyor.services.autoscaling import errors, policies
from conveyor.services.autoscaling.groups import Group
from conveyor.services.autoscaling.pools import PoolFace
from conveyor.services.autoscaling.store import AutoScalingStore
from conveyor.services.autoscaling.supervisor import Supervisor
from conveyor.wire import RequestContext

if TYPE_CHECKING:
    from mypy_boto3_autoscaling.type_defs import (
        DeletePolicyTypeTypeDef,
        DescribePoliciesTypeTypeDef,
        ExecutePolicyTypeTypeDef,
        PutScalingPolicyTypeTypeDef,
    )


def page(items: list[Any], token: str | None, size: int | None, default: int) -> tuple[list[Any], str | None]:
    try:
        start = int(token) if token else 0
    except ValueError:
        raise errors.validation("The NextToken value is invalid.")
    end = start + (size or default)
    return items[start:end], str(end) if end < len(items) else None


class PolicyOperations:
    """Mixed into AutoScalingService, which provides what is declared here."""

    ports: Ports
    clock: Clock
    pools: PoolFace
    policies: dict[str, dict[str, Any]]  # policy ARN -> document (with "_region")

    def _parts(self) -> tuple[AutoScalingStore, Supervisor]:
        raise NotImplementedError

    def _group(self, region: str, name: str) -> Group:
        raise NotImplementedError

    async def _save(self, group: Group, acts: list[dict[str, Any]] | None = None) -> None:
        raise NotImplementedError

    async def PutScalingPolicy(self, ctx: RequestContext, params: PutScalingPolicyTypeTypeDef) -> dict[str, Any]:
        store, _ = self._parts()
        name, policy_name = params["AutoScalingGroupName"], params["PolicyName"]
        self.pools.refuse_change(name)
        self._group(ctx.region, name)
        given = dict(params)
        kind = policies.check(given)
        existing = next((p for p in self.policies.values() if p["_region"] == ctx.region
                         and p["AutoScalingGroupName"] == name and p["PolicyName"] == policy_name), None)
        arn = existing["PolicyARN"] if existing else policies.policy_arn(ctx.region, ctx.account_id, name, policy_name)
        doc: dict[str, Any] = {"AutoScalingGroupName": name, "PolicyName": policy_name, "PolicyARN": arn,
                               "PolicyType": kind, "Enabled": given.get("Enabled", True), "Alarms": []}
        for key in ("AdjustmentType", "ScalingAdjustment", "Cooldown", "StepAdjustments", "MetricAggregationType",
                    "EstimatedInstanceWarmup", "MinAdjustmentMagnitude", "TargetTrackingConfiguration"):
            if given.get(key) is not None:
                doc[key] = given[key]
        if kind == "StepScaling":
            doc.setdefault("MetricAggregationType", "Average")
        alarms_port = self.ports.alarms
        if existing and existing.get("Alarms") and alarms_port is not None:
            await alarms_port.delete_alarms(ctx.region, [a["AlarmName"] for a in existing["Alarms"]])
        if kind == "TargetTrackingScaling":
            if alarms_port is None:
                raise errors.unsupported("target tracking without CloudWatch")
            doc["Alarms"] = await policies.make_alarms(alarms_port, ctx.region, name, arn,
                                                       doc["TargetTrackingConfiguration"])
        await store.put_policy(arn, ctx.region, name, doc)
        self.policies[arn] = {**doc, "_region": ctx.region}
        return {"PolicyARN": arn, "Alarms": doc["Alarms"]}

    async def DescribePolicies(self, ctx: RequestContext, params: DescribePoliciesTypeTypeDef) -> dict[str, Any]:
        group, names, kinds = params.get("AutoScalingGroupName"), params.get("PolicyNames"), params.get("PolicyTypes")
        found = [{k: v for k, v in p.items() if not k.startswith("_")} for p in self.policies.values()
                 if p["_region"] == ctx.region and (not group or p["AutoScalingGroupName"] == group)
                 and (not names or p["PolicyName"] in names) and (not kinds or p["PolicyType"] in kinds)]
        found.sort(key=lambda p: (p["AutoScalingGroupName"], p["PolicyName"]))
        items, token = page(found, params.get("NextToken"), params.get("MaxRecords"), 50)
        return {"ScalingPolicies": items, "NextToken": token}

    def _policy(self, region: str, group: str, name: str) -> dict[str, Any]:
        found = next((p for p in self.policies.values() if p["_region"] == region
                      and p["AutoScalingGroupName"] == group and (p["PolicyName"] == name or p["PolicyARN"] == name)),
                     None)
        if found is None:
            raise errors.policy_not_found(name, group)
        return found

    async def DeletePolicy(self, ctx: RequestContext, params: DeletePolicyTypeTypeDef) -> dict[str, Any]:
        store, _ = self._parts()
        policy = self._policy(ctx.region, params.get("AutoScalingGroupName") or "", params["PolicyName"])
        if policy.get("Alarms") and self.ports.alarms is not None:
            await self.ports.alarms.delete_alarms(ctx.region, [a["AlarmName"] for a in policy["Alarms"]])
        await store.delete_policy(policy["PolicyARN"])
        del self.policies[policy["PolicyARN"]]
        return {}

    async def ExecutePolicy(self, ctx: RequestContext, params: ExecutePolicyTypeTypeDef) -> dict[str, Any]:
        name = params.get("AutoScalingGroupName") or ""
        policy = self._policy(ctx.region, name, params["PolicyName"])
        if policy["PolicyType"] == "TargetTrackingScaling":
            raise errors.validation("ExecutePolicy is not supported for a target tracking scaling policy.")
        if policy["PolicyType"] == "StepScaling" and (params.get("MetricValue") is None
                                                      or params.get("BreachThreshold") is None):
            raise errors.validation("MetricValue and BreachThreshold are required for a step scaling policy.")
        group = self._group(ctx.region, policy["AutoScalingGroupName"])
        if (policy["PolicyType"] == "SimpleScaling" and params.get("HonorCooldown")
                and self.clock.now() - float(group.doc.get("_last_simple", -1e18)) < policy.get(
                    "Cooldown", group.doc["DefaultCooldown"])):
            raise errors.in_cooldown(group.name)
        await self._run_policy(group, policy, None, params.get("MetricValue"), params.get("BreachThreshold"))
        return {}

    async def _run_policy(self, group: Group, policy: dict[str, Any], firing: AlarmFiring | None,
                          value: float | None = None, breach: float | None = None) -> str:
        _, supervisor = self._parts()
        async with group.lock:
            now = self.clock.now()
            before = group.desired
            wanted = policies.execute(group, policy, firing, now, value, breach)
            if wanted is None or wanted == before:
                await self._save(group)
                return f"Policy {policy['PolicyName']} left the desired capacity at {before}"
            group.cause = policies.cause(firing, policy, before, wanted, now)
            group.doc = {**group.doc, "DesiredCapacity": wanted}
            await self._save(group)
        await supervisor.reconcile(group)
        return f"Policy {policy['PolicyName']} changed the desired capacity from {before} to {wanted}"

