"""Keeping each group at its desired capacity: the same supervision the worker pools do, over EC2 instances.

- Health checks (EC2 type): an instance that is not running (its process ended: stopped; or terminated from
  outside the group) is marked Unhealthy once the group's HealthCheckGracePeriod since it came InService
  has passed (at once when it is shutting down or terminated), then terminated and replaced
  (https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-health-checks.html).
- Capacity: missing instances are launched, spread over the group's zones (the zone with the fewest
  first); extra ones are terminated by the termination policy, drained like pool workers (SIGTERM, then
  SIGKILL; EC2's shutting-down).
- Crash loops: instances that keep ending within seconds of starting hold launches back with the pools'
  growing delay (conveyor.runtime.workers.CrashLoop).
- Target groups (TargetGroupARNs): an instance is registered in each as it comes InService, and
  deregistered before it is terminated, once the deregistration delay is over; with health check type ELB, an instance its target group's health
  checks find unhealthy is marked Unhealthy (after the grace period) and replaced
  (https://docs.aws.amazon.com/autoscaling/ec2/userguide/attach-load-balancer-asg.html).
- Suspended processes (Launch, Terminate, HealthCheck, ReplaceUnhealthy, AZRebalance, AlarmNotification,
  AddToLoadBalancer) stop what they name (https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-suspend-resume-processes.html).
- Every change is a scaling activity with AWS's wording of its cause, stored with the group.
Checks run every HEALTH_INTERVAL seconds of the server's clock and at once when an instance changes state.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from conveyor import builtin_metrics
from conveyor.background import spawn
from conveyor.clock import Clock, TimerHandle
from conveyor.ports import Instances, LaunchTemplateRef, MetricsSink, TargetGroups
from conveyor.services.autoscaling.groups import Group, choose_victims, utc
from conveyor.services.autoscaling.store import AutoScalingStore

log = logging.getLogger("conveyor.autoscaling")
HEALTH_INTERVAL = 10.0
ENDED = ("terminated",)
DOWN_AT_ONCE = ("shutting-down", "terminated")


class Supervisor:
    def __init__(self, store: AutoScalingStore, clock: Clock, instances: Instances, account: str,
                 metrics: MetricsSink | None, target_groups: TargetGroups | None = None) -> None:
        self.store = store
        self.target_groups = target_groups
        self.clock = clock
        self.instances = instances
        self.account = account
        self.metrics = metrics
        self.groups: dict[tuple[str, str], Group] = {}
        self._timer: TimerHandle | None = None
        self._hold_timers: dict[tuple[str, str], TimerHandle] = {}
        self._drain_timers: dict[str, TimerHandle] = {}  # instance id -> its termination after draining
        self.closing = False

    # -- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> None:
        self.closing = False
        self.instances.watch(self._instance_changed)
        self._schedule()

    def stop(self) -> None:
        self.closing = True
        for timer in [self._timer, *self._hold_timers.values(), *self._drain_timers.values()]:
            if timer is not None:
                timer.cancel()

    def _schedule(self) -> None:
        if not self.closing:
            self._timer = self.clock.call_at(self.clock.now() + HEALTH_INTERVAL, self._tick_due)

    def _tick_due(self) -> None:
        """A check is due: the group metrics are sampled now (each check at its own time, also when the manual
        clock moves a whole minute at once), the groups reconciled in the background."""
        self._schedule()
        for group in list(self.groups.values()):
            self._publish(group)
        spawn(self._tick())

    async def _tick(self) -> None:
        for group in list(self.groups.values()):
            await self.reconcile(group)

    def _instance_changed(self, view: Any) -> None:
        for group in list(self.groups.values()):
            if view.instance_id in group.members and group.region == view.region:
                spawn(self.reconcile(group))

    def owner(self, region: str, instance_id: str) -> Group | None:
        return next((g for g in self.groups.values() if g.region == region and instance_id in g.members), None)

    # -- activities ----------------------------------------------------------------------------------
    def activity(self, group: Group, description: str, cause: str, status: str = "InProgress",
                 details: dict[str, str] | None = None, message: str | None = None) -> dict[str, Any]:
        now = self.clock.now()
        prefix, group.cause = group.cause, ""
        act: dict[str, Any] = {
            "ActivityId": str(uuid.uuid4()), "AutoScalingGroupName": group.name,
            "AutoScalingGroupARN": group.doc["AutoScalingGroupARN"], "Description": description,
            "Cause": f"{prefix}  {cause}".strip() if prefix else cause, "StartTime": now,
            "StatusCode": status, "Progress": 100 if status in ("Successful", "Failed") else 50,
            "Details": json.dumps(details or {"Availability Zone": ", ".join(group.doc["AvailabilityZones"])}),
        }
        if status in ("Successful", "Failed"):
            act["EndTime"] = now
        if message:
            act["StatusMessage"] = message
        return act

    def _finish(self, group: Group, member: dict[str, Any], done: list[dict[str, Any]]) -> None:
        """The member's activity in progress ends (successfully)."""
        act = member.pop("_activity", None)
        if act is not None:
            done.append({**act, "StatusCode": "Successful", "Progress": 100, "EndTime": self.clock.now()})

    # -- the loop ---------------------------------------------------------------------------------------
    async def reconcile(self, group: Group) -> None:
        if self.closing:
            return
        async with group.lock:
            if (group.region, group.name) not in self.groups:
                return
            try:
                await self._reconcile(group)
            except Exception:
                log.exception("reconciling group %s failed", group.name)

    async def _reconcile(self, group: Group) -> None:
        now = self.clock.now()
        acts: list[dict[str, Any]] = []
        doomed: list[str] = []
        changed = self._check_members(group, now, acts, doomed)
        active = group.active()
        missing = group.desired - len(active)
        launched: list[tuple[str, dict[str, Any]]] = []
        if missing > 0 and not group.suspended("Launch"):
            if group.crash_loop.holding(now):
                self._hold(group)
            else:
                launched = await self._launch(group, missing, len(active), acts)
                # Instances that came up while they launched (before they were members, so their state
                # change was not this group's yet).
                self._check_members(group, self.clock.now(), acts, doomed)
                changed = changed or bool(launched)
        elif missing < 0 and not group.suspended("Terminate"):
            victims = choose_victims(group, -missing)
            for instance_id in victims:
                member = group.members[instance_id]
                member["LifecycleState"] = "Terminating"
                member["_activity"] = self.activity(
                    group, f"Terminating EC2 instance: {instance_id}",
                    f"At {utc(now)} an instance was taken out of service in response to a difference between desired "
                    f"and actual capacity, shrinking the capacity from {len(active)} to {group.desired}.  At "
                    f"{utc(now)} instance {instance_id} was selected for termination.",
                    details={"Availability Zone": member["AvailabilityZone"]})
                acts.append(member["_activity"])
                doomed.append(instance_id)
                changed = True
        waits = self._drain_waits(group, doomed)
        changed = await self._balance(group, doomed) or changed
        if changed or acts:
            await self.store.put_group(group.region, group.name, group.doc, acts)
        for instance_id in doomed:
            self._terminate_after(group.region, instance_id, waits.get(instance_id, 0.0))

    def _drain_waits(self, group: Group, doomed: list[str]) -> dict[str, float]:
        """How long each doomed member drains in its target groups first: Auto Scaling terminates an instance
        behind a load balancer once its deregistration delay is over, so the requests in flight finish
        (https://docs.aws.amazon.com/autoscaling/ec2/userguide/attach-load-balancer-asg.html)."""
        if self.target_groups is None:
            return {}
        waits = {}
        for instance_id in doomed:
            member = group.members.get(instance_id) or {}
            delays = [self.target_groups.deregistration_delay(group.region, arn)
                      for arn in member.get("_target_groups") or []]
            waits[instance_id] = max(delays, default=0.0)
        return waits

    def resume_terminations(self) -> None:
        """After a restart: members that were draining before their termination are terminated now (the
        timers of their deregistration delay did not survive)."""
        for group in self.groups.values():
            for instance_id, member in group.members.items():
                view = self.instances.instance(group.region, instance_id)
                if member["LifecycleState"] == "Terminating" and view is not None and view.state in ("pending",
                                                                                                     "running"):
                    spawn(self.instances.terminate(group.region, instance_id))

    def _terminate_after(self, region: str, instance_id: str, wait: float) -> None:
        if wait <= 0:
            spawn(self.instances.terminate(region, instance_id))
            return

        def due() -> None:
            self._drain_timers.pop(instance_id, None)
            if not self.closing:
                spawn(self.instances.terminate(region, instance_id))

        self._drain_timers[instance_id] = self.clock.call_at(self.clock.now() + wait, due)

    async def _balance(self, group: Group, doomed: list[str]) -> bool:
        """Register members in service in the group's target groups; deregister the ones leaving (before
        they are terminated, so that the load balancer stops sending them requests first)."""
        if self.target_groups is None:
            return False
        changed = False
        wanted = list(group.doc.get("TargetGroupARNs") or [])
        leaving = set(doomed) | set(group.leaving)
        for instance_id, member in list(group.members.items()) + [(i, {"_target_groups": g})
                                                                  for i, g in group.leaving.items()]:
            registered = list(member.get("_target_groups") or [])
            if instance_id in leaving or member.get("LifecycleState") == "Terminating":
                drop, keep = registered, []
            else:
                drop = [arn for arn in registered if arn not in wanted]
                keep = [arn for arn in registered if arn in wanted]
                if member.get("LifecycleState") == "InService" and member.get("HealthStatus") == "Healthy" \
                        and not group.suspended("AddToLoadBalancer"):
                    for arn in wanted:
                        if arn in keep:
                            continue
                        try:
                            await self.target_groups.register_instances(group.region, arn, [instance_id])
                            keep.append(arn)
                        except Exception as exc:
                            log.warning("registering %s in %s failed: %s", instance_id, arn, exc)
            for arn in drop:
                try:
                    await self.target_groups.deregister_instances(group.region, arn, [instance_id])
                except Exception as exc:
                    log.warning("deregistering %s from %s failed: %s", instance_id, arn, exc)
            if keep != registered:
                changed = True
                if instance_id in group.members:
                    group.members[instance_id]["_target_groups"] = keep
        group.leaving.clear()
        return changed

    def _elb_unhealthy(self, group: Group, instance_id: str, member: dict[str, Any]) -> bool:
        """Whether a target group of the group finds the instance unhealthy (health check type ELB)."""
        if self.target_groups is None or group.doc.get("HealthCheckType") != "ELB":
            return False
        return any(self.target_groups.instance_state(group.region, arn, instance_id) == "unhealthy"
                   for arn in member.get("_target_groups") or [])

    def _check_members(self, group: Group, now: float, acts: list[dict[str, Any]], doomed: list[str]) -> bool:
        changed = False
        grace = float(group.doc.get("HealthCheckGracePeriod") or 0)
        for instance_id, member in list(group.members.items()):
            view = self.instances.instance(group.region, instance_id)
            if view is None or view.state in ENDED:
                if member["LifecycleState"] != "Terminating" and view is not None:
                    acts.append(self.activity(
                        group, f"Terminating EC2 instance: {instance_id}",
                        f"At {utc(now)} an instance was taken out of service in response to an EC2 instance status "
                        "check failure.", "Successful", {"Availability Zone": member["AvailabilityZone"]}))
                self._finish(group, member, acts)
                crashed = view is not None and view.crashed
                delay = group.crash_loop.ended(view.lived if view is not None else 1e9, not crashed, now)
                if delay:
                    self._hold(group)
                if member.get("_target_groups"):
                    group.leaving[instance_id] = list(member["_target_groups"])
                del group.members[instance_id]
                changed = True
                continue
            member["_pid"] = view.pid
            if member["LifecycleState"] == "Pending" and view.state == "running":
                member["LifecycleState"] = "InService"
                member["_in_service"] = now
                self._finish(group, member, acts)
                changed = True
            healthy_state = view.state in ("pending", "running")
            if (not healthy_state and member["HealthStatus"] == "Healthy" and member["LifecycleState"] != "Terminating"
                    and not group.suspended("HealthCheck")):
                since = float(member.get("_in_service", member.get("_launched", now)))
                if view.state in DOWN_AT_ONCE or now >= since + grace:
                    member["HealthStatus"] = "Unhealthy"
                    changed = True
            if (healthy_state and member["HealthStatus"] == "Healthy" and member["LifecycleState"] == "InService"
                    and not group.suspended("HealthCheck") and self._elb_unhealthy(group, instance_id, member)
                    and now >= float(member.get("_in_service", now)) + grace):
                member["HealthStatus"] = "Unhealthy"
                member["_unhealthy_cause"] = (f"At {utc(now)} an instance was taken out of service in response to an "
                                              "ELB system health check failure.")
                changed = True
            if (member["HealthStatus"] == "Unhealthy" and member["LifecycleState"] != "Terminating"
                    and not group.suspended("ReplaceUnhealthy")):
                member["LifecycleState"] = "Terminating"
                reason = member.pop("_unhealthy_cause", None) or (
                    f"At {utc(now)} an instance was taken out of service in response to an EC2 instance status "
                    "check failure.")
                member["_activity"] = self.activity(group, f"Terminating EC2 instance: {instance_id}", reason,
                                                    details={"Availability Zone": member["AvailabilityZone"]})
                acts.append(member["_activity"])
                doomed.append(instance_id)
                changed = True
        return changed

    async def _launch(self, group: Group, count: int, before: int, acts: list[dict[str, Any]],
                      ) -> list[tuple[str, dict[str, Any]]]:
        template = group.doc["LaunchTemplate"]
        ref = LaunchTemplateRef(template.get("LaunchTemplateId"), template.get("LaunchTemplateName"),
                                template.get("Version") or "$Default")
        tags = {t["Key"]: t["Value"] for t in group.doc.get("Tags") or [] if t.get("PropagateAtLaunch")}
        tags["aws:autoscaling:groupName"] = group.name
        zones = list(group.doc["AvailabilityZones"])
        made: list[tuple[str, dict[str, Any]]] = []
        now = self.clock.now()
        for step in range(count):
            load = {z: 0 for z in zones}
            for _, existing in group.active():
                load[existing["AvailabilityZone"]] = load.get(existing["AvailabilityZone"], 0) + 1
            zone = min(zones, key=lambda z: (load.get(z, 0), zones.index(z)))
            cause = (f"At {utc(now)} an instance was started in response to a difference between desired and actual "
                     f"capacity, increasing the capacity from {before + step} to {group.desired}.")
            try:
                view = await self.instances.launch(group.region, ref, zone, tags)
            except Exception as exc:
                message = getattr(exc, "message", None) or str(exc)
                acts.append(self.activity(group, "Launching a new EC2 instance.  Status Reason: " + message, cause,
                                          "Failed", {"Availability Zone": zone}, message))
                break
            template_used = view.template
            member: dict[str, Any] = {
                "InstanceType": view.instance_type, "AvailabilityZone": zone, "LifecycleState": "Pending",
                "HealthStatus": "Healthy", "ProtectedFromScaleIn": bool(group.doc.get("NewInstancesProtectedFromScaleIn")),
                "_launched": now, "_pid": view.pid,
            }
            if template_used is not None:
                member["LaunchTemplate"] = {"LaunchTemplateId": template_used.template_id,
                                            "LaunchTemplateName": template_used.name, "Version": template_used.version}
            member["_activity"] = self.activity(group, f"Launching a new EC2 instance: {view.instance_id}", cause,
                                                details={"Availability Zone": zone})
            acts.append(member["_activity"])
            group.members[view.instance_id] = member
            made.append((view.instance_id, member))
        return made

    def _hold(self, group: Group) -> None:
        """Reconcile again when the crash-loop hold ends."""
        key = (group.region, group.name)
        old = self._hold_timers.pop(key, None)
        if old is not None:
            old.cancel()
        def due() -> None:
            spawn(self.reconcile(group))

        self._hold_timers[key] = self.clock.call_at(group.crash_loop.hold_until, due)

    def _publish(self, group: Group) -> None:
        """AWS/AutoScaling group metrics, for the group's enabled ones, sampled each check.
        https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-metrics.html"""
        enabled = [m["Metric"] for m in group.doc.get("EnabledMetrics") or []]
        if not enabled or self.metrics is None:
            return
        members = group.members.values()
        in_service = sum(1 for m in members if m["LifecycleState"] == "InService")
        pending = sum(1 for m in members if m["LifecycleState"] == "Pending")
        terminating = sum(1 for m in members if m["LifecycleState"] == "Terminating")
        values = {"GroupMinSize": group.doc["MinSize"], "GroupMaxSize": group.doc["MaxSize"],
                  "GroupDesiredCapacity": group.desired, "GroupInServiceInstances": in_service,
                  "GroupPendingInstances": pending, "GroupStandbyInstances": 0,
                  "GroupTerminatingInstances": terminating, "GroupTotalInstances": len(group.members),
                  "GroupInServiceCapacity": in_service, "GroupPendingCapacity": pending,
                  "GroupStandbyCapacity": 0, "GroupTerminatingCapacity": terminating,
                  "GroupTotalCapacity": len(group.members)}
        for name in enabled:
            if name in values:
                builtin_metrics.autoscaling_group(self.metrics, group.region, group.name, name, float(values[name]))
