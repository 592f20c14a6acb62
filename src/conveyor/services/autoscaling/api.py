"""EC2 Auto Scaling (query): groups of EC2 instances from a launch template, kept at their desired capacity.

- Groups: Create/Update/Delete, Describe (with the pipeline's worker pools as groups too: one engine of
  supervision, two faces), SetDesiredCapacity, TerminateInstanceInAutoScalingGroup, SetInstanceHealth,
  DescribeAutoScalingInstances, DescribeScalingActivities, Suspend/ResumeProcesses, metrics collection.
- Scaling policies (conveyor.services.autoscaling.policies), run by CloudWatch alarms through
  conveyor.ports.ScalingActions, and ExecutePolicy.
- The supervision itself: conveyor.services.autoscaling.supervisor.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from conveyor.authz import Need
from conveyor.ports import AlarmFiring, LaunchTemplateRef, Ports
from conveyor.services.autoscaling import errors, iam
from conveyor.services.autoscaling.groups import (
    GROUP_METRICS,
    PROCESSES,
    Group,
    check_settings,
    check_sizes,
    new_group_doc,
    tags_of,
    utc,
)
from conveyor.services.autoscaling.load_balancing import LoadBalancingOperations
from conveyor.services.autoscaling.policy_api import PolicyOperations, page
from conveyor.services.autoscaling.pools import PoolFace
from conveyor.services.autoscaling.store import ACTIVITIES_KEPT, AutoScalingStore
from conveyor.services.autoscaling.supervisor import Supervisor
from conveyor.services.base import Environment, Service
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from botocore.model import OperationModel
    from mypy_boto3_autoscaling.type_defs import (
        AutoScalingGroupNamesTypeTypeDef,
        CreateAutoScalingGroupTypeTypeDef,
        DeleteAutoScalingGroupTypeTypeDef,
        DescribeAutoScalingInstancesTypeTypeDef,
        DescribeScalingActivitiesTypeTypeDef,
        DisableMetricsCollectionQueryTypeDef,
        EnableMetricsCollectionQueryTypeDef,
        ScalingProcessQueryRequestTypeDef,
        SetDesiredCapacityTypeTypeDef,
        SetInstanceHealthQueryTypeDef,
        TerminateInstanceInAutoScalingGroupTypeTypeDef,
        UpdateAutoScalingGroupTypeTypeDef,
    )


class AutoScalingService(PolicyOperations, LoadBalancingOperations, Service):
    name = "autoscaling"
    other_accounts_own_nothing = True  # another account's caller: in its own account, empty here
    # A group name is a group of its own account: "AutoScalingGroup name not found", as for any missing one.
    other_account_names = (("AutoScalingGroupName", lambda ctx, name: errors.group_not_found(name)),)
    other_account_creates = frozenset({"CreateAutoScalingGroup", "CreateLaunchConfiguration"})
    validation_codes = errors.VALIDATION

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        self.store: AutoScalingStore | None = None
        self.supervisor: Supervisor | None = None
        self.policies: dict[str, dict[str, Any]] = {}  # policy ARN -> document (with "_region")
        self.pools = PoolFace(self.ports)

    def provide(self, ports: Ports) -> None:
        ports.scaling = self

    async def start(self) -> None:
        if self.ports.instances is None:
            raise RuntimeError("Auto Scaling needs EC2")
        self.store = AutoScalingStore(self.config.service_dir("autoscaling") / "autoscaling.db", self.env.disk)
        self.supervisor = Supervisor(self.store, self.clock, self.ports.instances, self.config.account_id,
                                     self.ports.metrics, self.ports.target_groups)
        for region, name, doc in self.store.groups():
            self.supervisor.groups[(region, name)] = Group(region, name, doc)
        self.policies = {doc["PolicyARN"]: {**doc, "_region": region} for region, doc in self.store.policies()}
        await self.store.expire_activities(self.clock.now() - ACTIVITIES_KEPT)
        self.supervisor.start()
        self.supervisor.resume_terminations()
        for group in list(self.supervisor.groups.values()):
            await self.supervisor.reconcile(group)

    async def stop(self) -> None:
        if self.supervisor is not None:
            self.supervisor.stop()
        if self.store is not None:
            self.store.close()
            self.store = None

    async def reset(self) -> None:
        store, supervisor = self._parts()
        supervisor.stop()
        await store.wipe()
        supervisor.groups.clear()
        self.policies.clear()
        supervisor.start()

    def health(self) -> dict[str, Any]:
        return {"status": "running" if self.store is not None else "stopped",
                "groups": len(self.supervisor.groups) if self.supervisor else 0}

    def _parts(self) -> tuple[AutoScalingStore, Supervisor]:
        if self.store is None or self.supervisor is None:
            raise RuntimeError("Auto Scaling is not started")
        return self.store, self.supervisor

    def _group(self, region: str, name: str) -> Group:
        _, supervisor = self._parts()
        group = supervisor.groups.get((region, name))
        if group is None:
            raise errors.group_not_found(name)
        return group

    async def _save(self, group: Group, acts: list[dict[str, Any]] | None = None) -> None:
        store, _ = self._parts()
        await store.put_group(group.region, group.name, group.doc, acts)

    def _zones(self, region: str, params: dict[str, Any]) -> tuple[list[str], list[str]]:
        """The group's zones and subnets, from VPCZoneIdentifier (subnet ids) or AvailabilityZones."""
        instances = self.ports.instances
        assert instances is not None
        by_subnet = instances.subnet_zones(region)
        subnets = [s.strip() for s in (params.get("VPCZoneIdentifier") or "").split(",") if s.strip()]
        for subnet in subnets:
            if subnet not in by_subnet:
                raise errors.validation(f"The subnet ID '{subnet}' does not exist")
        zones = [by_subnet[s] for s in subnets] if subnets else list(params.get("AvailabilityZones") or [])
        for zone in zones:
            if zone not in instances.zones(region):
                raise errors.validation(f"The availability zone '{zone}' is not legal")
        if not zones:
            raise errors.validation("At least one Availability Zone or VPC Subnet is required.")
        if not subnets:
            subnets = [s for s, z in by_subnet.items() if z in zones]
        return list(dict.fromkeys(zones)), subnets

    def _template(self, region: str, given: dict[str, Any] | None) -> dict[str, str]:
        if not given:
            raise errors.validation("Valid requests must contain either LaunchTemplate, LaunchConfigurationName, "
                                    "InstanceId or MixedInstancesPolicy parameter.")
        instances = self.ports.instances
        assert instances is not None
        version = given.get("Version") or "$Default"
        try:
            resolved = instances.resolve_template(region, LaunchTemplateRef(given.get("LaunchTemplateId"),
                                                                            given.get("LaunchTemplateName"), version))
        except Exception as exc:
            raise errors.validation(f"You must use a valid fully-formed launch template. {getattr(exc, 'message', exc)}")
        return {"LaunchTemplateId": resolved.template_id or "", "LaunchTemplateName": resolved.name or "",
                "Version": version}

    # -- IAM (conveyor.services.autoscaling.iam) ----------------------------------------------------------
    def iam_requests(self, ctx: RequestContext, operation: OperationModel, params: dict[str, Any]) -> list[Need]:
        return iam.needs(ctx, operation.name, params, self._group_arn, self._group_of, self._template_arn)

    def _group_arn(self, region: str, name: str) -> str | None:
        group = self.supervisor.groups.get((region, name)) if self.supervisor is not None else None
        return str(group.doc["AutoScalingGroupARN"]) if group is not None else None

    def _group_of(self, region: str, instance_id: str) -> str | None:
        groups = self.supervisor.groups.values() if self.supervisor is not None else []
        return next((g.name for g in groups if g.region == region and instance_id in g.members), None)

    def _template_arn(self, region: str, given: Mapping[str, Any]) -> str | None:
        instances = self.ports.instances
        if instances is None:
            return None
        try:
            found = instances.resolve_template(region, LaunchTemplateRef(given.get("LaunchTemplateId"),
                                                                         given.get("LaunchTemplateName")))
        except ServiceError:
            return None  # the operation answers its own error for a template not found
        return f"arn:aws:ec2:{region}:{self.config.account_id}:launch-template/{found.template_id}"

    # -- groups -----------------------------------------------------------------------------------------
    async def CreateAutoScalingGroup(self, ctx: RequestContext, params: CreateAutoScalingGroupTypeTypeDef,
                                     ) -> dict[str, Any]:
        _, supervisor = self._parts()
        name = params["AutoScalingGroupName"]
        if (ctx.region, name) in supervisor.groups or self.pools.has(name):
            raise errors.group_exists(name)
        given: dict[str, Any] = dict(params)
        check_settings(given)
        template = self._template(ctx.region, given.get("LaunchTemplate"))
        zones, subnets = self._zones(ctx.region, given)
        self.check_target_groups(ctx.region, list(given.get("TargetGroupARNs") or []))
        now = self.clock.now()
        doc = new_group_doc(given, ctx.region, ctx.account_id, now, template, zones, subnets)
        doc["Tags"] = tags_of([dict(t) for t in params.get("Tags") or []], name)
        group = Group(ctx.region, name, doc)
        if group.desired:
            group.cause = (f"At {utc(now)} a user request created an AutoScalingGroup changing the desired capacity "
                           f"from 0 to {group.desired}.")
        await self._save(group)
        supervisor.groups[(ctx.region, name)] = group
        await supervisor.reconcile(group)
        return {}

    async def UpdateAutoScalingGroup(self, ctx: RequestContext, params: UpdateAutoScalingGroupTypeTypeDef,
                                     ) -> dict[str, Any]:
        name = params["AutoScalingGroupName"]
        self.pools.refuse_change(name)
        group = self._group(ctx.region, name)
        given: dict[str, Any] = dict(params)
        check_settings(given)
        async with group.lock:
            doc = dict(group.doc)
            if given.get("LaunchTemplate"):
                doc["LaunchTemplate"] = self._template(ctx.region, given["LaunchTemplate"])
            if given.get("VPCZoneIdentifier") or given.get("AvailabilityZones"):
                zones, subnets = self._zones(ctx.region, given)
                doc["AvailabilityZones"], doc["VPCZoneIdentifier"] = zones, ",".join(subnets)
            for key in ("MinSize", "MaxSize", "DesiredCapacity", "DefaultCooldown", "HealthCheckType",
                        "HealthCheckGracePeriod", "TerminationPolicies", "NewInstancesProtectedFromScaleIn",
                        "DefaultInstanceWarmup"):
                if given.get(key) is not None:
                    doc[key] = given[key]
            # A new min or max moves the desired capacity into range when it was not given.
            if given.get("DesiredCapacity") is None:
                doc["DesiredCapacity"] = max(doc["MinSize"], min(doc["MaxSize"], doc["DesiredCapacity"]))
            check_sizes(doc["MinSize"], doc["MaxSize"], doc["DesiredCapacity"])
            before = group.desired
            group.doc = doc
            if group.desired != before:
                group.cause = (f"At {utc(self.clock.now())} a user request update of AutoScalingGroup constraints "
                               f"to min: {doc['MinSize']}, max: {doc['MaxSize']}, desired: {doc['DesiredCapacity']} "
                               f"changing the desired capacity from {before} to {group.desired}.")
            await self._save(group)
        await self._parts()[1].reconcile(group)
        return {}

    async def DeleteAutoScalingGroup(self, ctx: RequestContext, params: DeleteAutoScalingGroupTypeTypeDef,
                                     ) -> dict[str, Any]:
        store, supervisor = self._parts()
        name = params["AutoScalingGroupName"]
        self.pools.refuse_change(name)
        group = self._group(ctx.region, name)
        if group.members and not params.get("ForceDelete"):
            raise errors.in_use(name)
        async with group.lock:
            await store.delete_group(ctx.region, name)
            del supervisor.groups[(ctx.region, name)]
        alarms = [a["AlarmName"] for p in self.policies.values() if p["_region"] == ctx.region
                  and p["AutoScalingGroupName"] == name for a in p.get("Alarms") or []]
        self.policies = {k: p for k, p in self.policies.items()
                         if not (p["_region"] == ctx.region and p["AutoScalingGroupName"] == name)}
        if alarms and self.ports.alarms is not None:
            await self.ports.alarms.delete_alarms(ctx.region, alarms)
        instances = self.ports.instances
        assert instances is not None
        for instance_id in list(group.members):  # ForceDelete: its instances go too
            await instances.terminate(ctx.region, instance_id)
        return {}

    async def DescribeAutoScalingGroups(self, ctx: RequestContext, params: AutoScalingGroupNamesTypeTypeDef,
                                        ) -> dict[str, Any]:
        _, supervisor = self._parts()
        names = list(params.get("AutoScalingGroupNames") or [])
        docs = [g.describe() for (region, _), g in sorted(supervisor.groups.items()) if region == ctx.region]
        docs += self.pools.describe(ctx.region, self.clock.now())
        if names:
            docs = [d for d in docs if d["AutoScalingGroupName"] in names]
        for query in params.get("Filters") or []:
            key, values = query.get("Name") or "", list(query.get("Values") or [])
            if key.startswith("tag:"):
                docs = [d for d in docs if any(t["Key"] == key[4:] and t["Value"] in values for t in d["Tags"])]
            elif key == "tag-key":
                docs = [d for d in docs if any(t["Key"] in values for t in d["Tags"])]
            elif key == "tag-value":
                docs = [d for d in docs if any(t["Value"] in values for t in d["Tags"])]
            else:
                raise errors.validation(f"Filter type {key} is not correct. Allowed Filter types are: tag-key "
                                        "tag-value tag:<key>")
        items, token = page(sorted(docs, key=lambda d: d["AutoScalingGroupName"]), params.get("NextToken"),
                             params.get("MaxRecords"), 50)
        return {"AutoScalingGroups": items, "NextToken": token}

    async def DescribeAutoScalingInstances(self, ctx: RequestContext, params: DescribeAutoScalingInstancesTypeTypeDef,
                                           ) -> dict[str, Any]:
        ids = set(params.get("InstanceIds") or [])
        out = []
        groups = await self.DescribeAutoScalingGroups(ctx, {"MaxRecords": 100})
        for group in groups["AutoScalingGroups"]:
            for instance in group["Instances"]:
                if not ids or instance["InstanceId"] in ids:
                    out.append({**instance, "AutoScalingGroupName": group["AutoScalingGroupName"]})
        items, token = page(out, params.get("NextToken"), params.get("MaxRecords"), 50)
        return {"AutoScalingInstances": items, "NextToken": token}

    async def SetDesiredCapacity(self, ctx: RequestContext, params: SetDesiredCapacityTypeTypeDef) -> dict[str, Any]:
        name, desired = params["AutoScalingGroupName"], params["DesiredCapacity"]
        if self.pools.has(name):
            await self.pools.set_desired(name, desired)
            return {}
        group = self._group(ctx.region, name)
        async with group.lock:
            doc = group.doc
            now = self.clock.now()
            if params.get("HonorCooldown") and now - float(doc.get("_last_simple", -1e18)) < doc["DefaultCooldown"]:
                raise errors.in_cooldown(name)
            if not doc["MinSize"] <= desired <= doc["MaxSize"]:
                raise errors.validation(f"New SetDesiredCapacity value {desired} is "
                                        f"{'above max value ' + str(doc['MaxSize']) if desired > doc['MaxSize'] else 'below min value ' + str(doc['MinSize'])} "
                                        "for the AutoScalingGroup.")
            before = group.desired
            if desired != before:
                group.cause = (f"At {utc(now)} a user request explicitly set group desired capacity changing the "
                               f"desired capacity from {before} to {desired}.")
            group.doc = {**doc, "DesiredCapacity": desired}
            await self._save(group)
        await self._parts()[1].reconcile(group)
        return {}

    async def TerminateInstanceInAutoScalingGroup(
            self, ctx: RequestContext, params: TerminateInstanceInAutoScalingGroupTypeTypeDef) -> dict[str, Any]:
        instance_id, decrement = params["InstanceId"], params["ShouldDecrementDesiredCapacity"]
        pooled = await self.pools.stop_worker(ctx.region, instance_id, decrement, self.clock.now())
        if pooled is not None:
            return {"Activity": pooled}
        _, supervisor = self._parts()
        group = supervisor.owner(ctx.region, instance_id)
        if group is None:
            raise errors.instance_not_in_group(instance_id)
        now = self.clock.now()
        async with group.lock:
            member = group.members[instance_id]
            doc = dict(group.doc)
            before = int(doc["DesiredCapacity"])
            if decrement:
                if before - 1 < doc["MinSize"]:
                    raise errors.validation(f"Currently, desiredSize equals minSize ({doc['MinSize']}). Terminating "
                                            "instance without replacement will violate group's min size constraint. "
                                            "Either set shouldDecrementDesiredCapacity flag to false or lower "
                                            "group's min size.")
                doc["DesiredCapacity"] = before - 1
            cause = f"At {utc(now)} instance {instance_id} was taken out of service in response to a user request"
            cause += f", shrinking the capacity from {before} to {before - 1}." if decrement else "."
            member["LifecycleState"] = "Terminating"
            group.doc = doc
            act = supervisor.activity(group, f"Terminating EC2 instance: {instance_id}", cause,
                                      details={"Availability Zone": member["AvailabilityZone"]})
            member["_activity"] = act
            await self._save(group, [act])
        instances = self.ports.instances
        assert instances is not None
        await instances.terminate(ctx.region, instance_id)
        return {"Activity": {k: v for k, v in act.items() if k != "AutoScalingGroupARN"}}

    async def SetInstanceHealth(self, ctx: RequestContext, params: SetInstanceHealthQueryTypeDef) -> dict[str, Any]:
        _, supervisor = self._parts()
        instance_id = params["InstanceId"]
        group = supervisor.owner(ctx.region, instance_id)
        if group is None:
            raise errors.instance_not_in_group(instance_id)
        status = params["HealthStatus"]
        if status not in ("Healthy", "Unhealthy"):
            raise errors.validation(f"Valid values for HealthStatus are Healthy and Unhealthy, not {status}")
        async with group.lock:
            member = group.members[instance_id]
            since = float(member.get("_in_service", member.get("_launched", 0.0)))
            respect = params.get("ShouldRespectGracePeriod", True)
            if (status == "Unhealthy" and respect and
                    self.clock.now() < since + float(group.doc.get("HealthCheckGracePeriod") or 0)):
                return {}  # still in its grace period: the call is ignored, as AWS does
            member["HealthStatus"] = status
            if status == "Unhealthy":
                member["_unhealthy_cause"] = (f"At {utc(self.clock.now())} an instance was taken out of service in "
                                              "response to a user health-check.")
            await self._save(group)
        await supervisor.reconcile(group)
        return {}

    async def DescribeScalingActivities(self, ctx: RequestContext, params: DescribeScalingActivitiesTypeTypeDef,
                                        ) -> dict[str, Any]:
        store, supervisor = self._parts()
        name = params.get("AutoScalingGroupName")
        if (name and (ctx.region, name) not in supervisor.groups and not params.get("IncludeDeletedGroups")
                and not self.pools.has(name)):
            raise errors.group_not_found(name)
        acts = store.activities(ctx.region, name)
        ids = set(params.get("ActivityIds") or [])
        if ids:
            acts = [a for a in acts if a["ActivityId"] in ids]
        items, token = page(acts, params.get("NextToken"), params.get("MaxRecords"), 100)
        return {"Activities": items, "NextToken": token}

    async def SuspendProcesses(self, ctx: RequestContext, params: ScalingProcessQueryRequestTypeDef) -> dict[str, Any]:
        await self._processes(ctx.region, params, suspend=True)
        return {}

    async def ResumeProcesses(self, ctx: RequestContext, params: ScalingProcessQueryRequestTypeDef) -> dict[str, Any]:
        await self._processes(ctx.region, params, suspend=False)
        return {}

    async def _processes(self, region: str, params: ScalingProcessQueryRequestTypeDef, suspend: bool) -> None:
        self.pools.refuse_change(params["AutoScalingGroupName"])
        group = self._group(region, params["AutoScalingGroupName"])
        names = list(params.get("ScalingProcesses") or PROCESSES)
        for name in names:
            if name not in PROCESSES:
                raise errors.validation(f"Process '{name}' is not a valid scaling process. Valid values: "
                                        f"{', '.join(PROCESSES)}")
        async with group.lock:
            current = [p for p in group.doc.get("SuspendedProcesses") or [] if p["ProcessName"] not in names]
            if suspend:
                current += [{"ProcessName": n, "SuspensionReason": f"User suspended at {utc(self.clock.now())}"}
                            for n in names]
            group.doc = {**group.doc, "SuspendedProcesses": current}
            await self._save(group)
        if not suspend:
            await self._parts()[1].reconcile(group)

    async def DescribeScalingProcessTypes(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"Processes": [{"ProcessName": p} for p in PROCESSES]}

    async def EnableMetricsCollection(self, ctx: RequestContext, params: EnableMetricsCollectionQueryTypeDef,
                                      ) -> dict[str, Any]:
        group = self._group(ctx.region, params["AutoScalingGroupName"])
        if params["Granularity"] != "1Minute":
            raise errors.validation("Valid value for granularity is 1Minute")
        names = list(params.get("Metrics") or GROUP_METRICS)
        for name in names:
            if name not in GROUP_METRICS:
                raise errors.validation(f"Invalid metric name {name}")
        kept = {m["Metric"] for m in group.doc.get("EnabledMetrics") or []} | set(names)
        group.doc = {**group.doc, "EnabledMetrics": [{"Metric": m, "Granularity": "1Minute"} for m in sorted(kept)]}
        await self._save(group)
        return {}

    async def DisableMetricsCollection(self, ctx: RequestContext, params: DisableMetricsCollectionQueryTypeDef,
                                       ) -> dict[str, Any]:
        group = self._group(ctx.region, params["AutoScalingGroupName"])
        names = set(params.get("Metrics") or GROUP_METRICS)
        group.doc = {**group.doc, "EnabledMetrics": [m for m in group.doc.get("EnabledMetrics") or []
                                                     if m["Metric"] not in names]}
        await self._save(group)
        return {}

    # -- conveyor.ports.ScalingActions ------------------------------------------------------------------
    async def alarm_action(self, policy_arn: str, firing: AlarmFiring) -> str:
        """(conveyor.ports.ScalingActions)"""
        policy = self.policies.get(policy_arn)
        if policy is None:
            raise LookupError(f"no scaling policy {policy_arn}")
        group = self._group(policy["_region"], policy["AutoScalingGroupName"])
        if not policy.get("Enabled", True):
            return f"Policy {policy['PolicyName']} is disabled"
        if group.suspended("AlarmNotification"):
            return f"AlarmNotification is suspended for {group.name}"
        return await self._run_policy(group, policy, firing)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        if self.supervisor is None:
            return {}
        now = self.clock.now()
        return {g.name: g.snapshot(now) for g in self.supervisor.groups.values()}
