"""Instances: their records, their state machine, and the machine (process) each one runs.

States follow the process (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-instance-lifecycle.html):
- pending once stored, running once its user data started;
- TerminateInstances: shutting-down while its processes get SIGTERM (SIGKILL after DRAIN seconds), then
  terminated; StopInstances: stopping, then stopped; StartInstances boots it again (its user data runs
  again: the script is this machine's boot);
- a process that ends by itself is the machine shutting itself down: stopped, or terminated when its
  InstanceInitiatedShutdownBehavior says so (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/
  Using_ChangingInstanceInitiatedShutdownBehavior.html);
- a restart of the server is a reboot of its instances: those running start their user data again;
- terminated instances stay visible for an hour, as on EC2, then are forgotten.
Every state change is stored before it is reported, then told to the watchers (Auto Scaling).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conveyor.background import spawn
from conveyor.clock import Clock
from conveyor.ports import InstanceView, LaunchTemplateRef
from conveyor.services.ec2 import errors
from conveyor.services.ec2.launch import LaunchSpec
from conveyor.services.ec2.machine import Machine, WorkerStartError
from conveyor.services.ec2.store import Ec2Store
from conveyor.services.ec2.templates import new_id

log = logging.getLogger("conveyor.ec2")
CODES = {"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80}
DRAIN = 30.0  # real seconds between SIGTERM and SIGKILL when an instance stops or terminates
TERMINATED_KEPT = 3600.0
ACTIVE_LIMIT = 20  # running or pending instances per region (EC2's default On-Demand vCPU quota, roughly)
# Variables of the server's own environment that would speak for the instance instead of its metadata.
HIDDEN = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
          "AWS_EC2_METADATA_DISABLED", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
          "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_WEB_IDENTITY_TOKEN_FILE",
          "AWS_ROLE_ARN", "CONVEYOR_ACCESS_KEY_ID", "CONVEYOR_SECRET_ACCESS_KEY")


@dataclass
class Instance:
    instance_id: str
    region: str
    doc: dict[str, Any]  # what DescribeInstances answers
    private: dict[str, Any]  # reservation, user data, role, shutdown behaviour, template: never described
    machine: Machine | None = None
    credentials: Any = None  # the role session its metadata serves (conveyor.ports.SessionCredentials)
    lived: float = 0.0  # how long its last process ran (real seconds), once it is gone

    @property
    def state(self) -> str:
        return str(self.doc["State"]["Name"])

    def row(self) -> tuple[str, str, dict[str, Any]]:
        return self.instance_id, self.region, {"doc": self.doc, "private": self.private}

    def view(self) -> InstanceView:
        template = self.private.get("template")
        return InstanceView(
            self.instance_id, self.region, self.state, float(self.doc["LaunchTime"]),
            self.doc["Placement"]["AvailabilityZone"], self.doc["InstanceType"],
            LaunchTemplateRef(**template) if template else None,
            self.machine.lived() if self.machine is not None else self.lived,
            self.machine.pid if self.machine is not None else None, bool(self.private.get("crashed")),
            str(self.doc.get("PrivateIpAddress") or "") or None)


class Fleet:
    def __init__(self, store: Ec2Store, clock: Clock, account: str, root: Path,
                 environment: Callable[[Instance], dict[str, str]]) -> None:
        self.store = store
        self.clock = clock
        self.account = account
        self.root = root  # DATA_DIR/ec2/instances: one working directory per instance
        self.environment = environment  # the variables of an instance's process
        self.by_id: dict[str, Instance] = {}
        self.listeners: list[Callable[[InstanceView], None]] = []
        self.closing = False

    # -- lifecycle ------------------------------------------------------------------------------------
    async def load(self) -> None:
        """Read the instances back; those that were running boot again (the server's restart is their
        reboot), those half-way stop or terminate."""
        now = self.clock.now()
        forget = []
        for instance_id, region, row in self.store.instances():
            instance = Instance(instance_id, region, row["doc"], row["private"])
            if instance.state == "terminated" and now - instance.private.get("ended", now) > TERMINATED_KEPT:
                forget.append(instance_id)
                continue
            self.by_id[instance_id] = instance
        if forget:
            await self.store.delete_instances(forget)
        for instance in list(self.by_id.values()):
            if instance.state == "shutting-down":
                await self._set_state([instance], "terminated")
            elif instance.state == "stopping":
                await self._set_state([instance], "stopped")
            elif instance.state in ("pending", "running"):
                await self._boot(instance)

    async def halt_all(self, kill: bool = False) -> None:
        """The server stops (states stay as they are: a reboot follows) or all is wiped (kill)."""
        self.closing = True
        machines = [i.machine for i in self.by_id.values() if i.machine is not None]
        for machine in machines:
            machine.halting = True
            if kill:
                machine.kill()
        for machine in machines:
            await machine.shutdown(0 if kill else DRAIN)

    async def wipe(self) -> None:
        await self.halt_all(kill=True)
        await self.store.wipe()
        self.by_id.clear()
        with contextlib.suppress(OSError):
            shutil.rmtree(self.root)
        self.closing = False

    # -- reading --------------------------------------------------------------------------------------
    def get(self, region: str, instance_id: str) -> Instance | None:
        """The instance, unless it is in another region or was terminated over an hour ago."""
        found = self.by_id.get(instance_id)
        if found is None or found.region != region:
            return None
        if found.state == "terminated" and self.clock.now() - found.private.get("ended", 0.0) > TERMINATED_KEPT:
            return None
        return found

    def visible(self, region: str) -> list[Instance]:
        now = self.clock.now()
        return sorted((i for i in self.by_id.values() if i.region == region and not (
            i.state == "terminated" and now - i.private.get("ended", now) > TERMINATED_KEPT)),
            key=lambda i: (i.doc["LaunchTime"], i.private["launch_index"], i.instance_id))

    def named(self, region: str, ids: list[str]) -> list[Instance]:
        """The instances the ids name, in order; InvalidInstanceID.NotFound names every missing one."""
        for instance_id in ids:
            if not instance_id.startswith("i-") or not all(c in "0123456789abcdef" for c in instance_id[2:]):
                raise errors.instance_id_malformed(instance_id)
        found = {i: self.get(region, i) for i in ids}
        missing = [i for i, instance in found.items() if instance is None]
        if missing:
            raise errors.instance_not_found(missing)
        return [i for i in found.values() if i is not None]

    # -- running --------------------------------------------------------------------------------------
    async def run(self, region: str, spec: LaunchSpec, count: int, minimum: int, requester: str) -> tuple[str, list[Instance]]:
        active = sum(1 for i in self.by_id.values() if i.region == region and i.state in ("pending", "running"))
        room = ACTIVE_LIMIT - active
        if room < minimum:
            raise errors.instance_limit(minimum, ACTIVE_LIMIT)
        count = min(count, room)
        reservation = new_id("r")
        now = self.clock.now()
        taken = {str(i.doc.get("PrivateIpAddress")) for i in self.by_id.values() if i.state != "terminated"}
        made = [self._record(region, spec, reservation, index, now, requester, taken) for index in range(count)]
        await self.store.put_instances([i.row() for i in made])
        for instance in made:
            self.by_id[instance.instance_id] = instance
        for instance in made:
            await self._boot(instance)
        return reservation, made

    def _record(self, region: str, spec: LaunchSpec, reservation: str, index: int, now: float,
                requester: str, taken: set[str]) -> Instance:
        instance_id = new_id("i")
        subnet = spec.subnet
        address = loopback_address(taken)
        taken.add(address)
        doc: dict[str, Any] = {
            "InstanceId": instance_id, "ImageId": spec.image_id, "InstanceType": spec.instance_type,
            "State": {"Code": 0, "Name": "pending"}, "LaunchTime": now, "AmiLaunchIndex": index,
            "Placement": {"AvailabilityZone": spec.zone, "GroupName": "", "Tenancy": "default"},
            "PrivateIpAddress": address, "PrivateDnsName": f"ip-{address.replace('.', '-')}.ec2.internal",
            "PublicDnsName": "", "StateTransitionReason": "", "SubnetId": subnet["SubnetId"], "VpcId": subnet["VpcId"],
            "Architecture": "x86_64", "RootDeviceType": "ebs", "RootDeviceName": "/dev/xvda", "Hypervisor": "xen",
            "VirtualizationType": "hvm", "EnaSupport": True, "SourceDestCheck": True, "EbsOptimized": False,
            "Monitoring": {"State": "disabled"}, "MetadataOptions": spec.metadata, "PlatformDetails": "Linux/UNIX",
            "UsageOperation": "RunInstances", "Tags": list(spec.tags), "ProductCodes": [],
            "SecurityGroups": [], "BlockDeviceMappings": [], "NetworkInterfaces": [],
        }
        kept = dict(spec.kept)
        if "Monitoring" in kept:
            doc["Monitoring"] = {"State": "enabled" if kept.pop("Monitoring").get("Enabled") else "disabled"}
        if "EbsOptimized" in kept:
            doc["EbsOptimized"] = bool(kept.pop("EbsOptimized"))
        if "ClientToken" in kept:
            doc["ClientToken"] = kept.pop("ClientToken")
        if spec.profile is not None:
            doc["IamInstanceProfile"] = {"Arn": spec.profile.arn, "Id": spec.profile.profile_id}
        template = spec.template
        private = {
            "reservation": reservation, "requester": requester, "owner": self.account, "launch_index": index,
            "user_data": spec.user_data.decode("latin-1"), "shutdown_behavior": spec.shutdown_behavior,
            "role_arn": spec.profile.role_arn if spec.profile is not None else None,
            "disable_api_termination": spec.disable_api_termination, "settings": kept,
            "template": {"template_id": template.template_id, "name": template.name, "version": template.version}
            if template is not None else None,
        }
        return Instance(instance_id, region, doc, private)

    async def _boot(self, instance: Instance) -> None:
        instance.private["crashed"] = False
        workdir = self.root / instance.instance_id
        machine = Machine(instance.instance_id, workdir, instance.private["user_data"].encode("latin-1"),
                          self.environment(instance), self._halted)
        instance.machine = machine
        try:
            await machine.boot()
        except (WorkerStartError, OSError) as exc:
            log.warning("instance %s cannot boot: %s", instance.instance_id, exc)
            instance.machine = None
            await self._set_state([instance], "terminated", ("Server.InternalError",
                                                             f"Server.InternalError: {exc}"))
            return
        if instance.state != "running":
            await self._set_state([instance], "running")

    async def _halted(self, machine: Machine) -> None:
        """The machine went down by itself: its shutdown behaviour decides what the instance becomes."""
        instance = self.by_id.get(machine.instance_id)
        if instance is None or instance.machine is not machine or self.closing:
            return
        if instance.state not in ("pending", "running"):
            return
        instance.lived = machine.lived()
        instance.private["crashed"] = not machine.killed  # a drill's SIGKILL is no crash of the machine
        instance.machine = None
        final = "terminated" if instance.private["shutdown_behavior"] == "terminate" else "stopped"
        await self._set_state([instance], final, ("Client.InstanceInitiatedShutdown",
                                                  "Client.InstanceInitiatedShutdown: Instance initiated shutdown"))

    async def terminate(self, instances: list[Instance]) -> list[dict[str, Any]]:
        for instance in instances:
            if instance.private.get("disable_api_termination"):
                raise errors.termination_protected(instance.instance_id)
        changes = []
        going = [i for i in instances if i.state not in ("terminated", "shutting-down")]
        before = {i.instance_id: i.state for i in instances}
        reason = ("Client.UserInitiatedShutdown", "Client.UserInitiatedShutdown: User initiated shutdown")
        await self._set_state(going, "shutting-down", reason)
        for instance in instances:
            changes.append(_change(instance, before[instance.instance_id]))
        for instance in going:
            spawn(self._bring_down(instance, "terminated", reason))
        return changes

    async def stop(self, instances: list[Instance]) -> list[dict[str, Any]]:
        for instance in instances:
            if instance.state in ("terminated", "shutting-down"):
                raise errors.incorrect_state(instance.instance_id, instance.state, "stopped")
        before = {i.instance_id: i.state for i in instances}
        going = [i for i in instances if i.state in ("pending", "running")]
        reason = ("Client.UserInitiatedShutdown", "Client.UserInitiatedShutdown: User initiated shutdown")
        await self._set_state(going, "stopping", reason)
        for instance in going:
            spawn(self._bring_down(instance, "stopped", reason))
        return [_change(i, before[i.instance_id]) for i in instances]

    async def start(self, instances: list[Instance]) -> list[dict[str, Any]]:
        for instance in instances:
            if instance.state not in ("stopped", "running", "pending"):
                raise errors.incorrect_state(instance.instance_id, instance.state, "started")
        before = {i.instance_id: i.state for i in instances}
        starting = [i for i in instances if i.state == "stopped"]
        await self._set_state(starting, "pending")
        changes = [_change(i, before[i.instance_id]) for i in instances]
        for instance in starting:
            spawn(self._boot(instance))
        return changes

    async def _bring_down(self, instance: Instance, final: str, reason: tuple[str, str]) -> None:
        machine = instance.machine
        if machine is not None:
            await machine.shutdown(DRAIN)
        if instance.machine is machine:
            instance.machine = None
            instance.lived = machine.lived() if machine is not None else instance.lived
        if instance.instance_id in self.by_id and not self.closing:
            await self._set_state([instance], final, reason)

    def kill(self, instance_id: str) -> bool:
        """A drill: SIGKILL the instance's processes, as a crash of its machine would."""
        instance = self.by_id.get(instance_id)
        if instance is None or instance.machine is None:
            return False
        instance.machine.kill(drill=True)
        return True

    # -- state changes --------------------------------------------------------------------------------
    async def _set_state(self, instances: list[Instance], state: str, reason: tuple[str, str] | None = None) -> None:
        if not instances:
            return
        now = self.clock.now()
        updated = []
        for instance in instances:
            doc = {**instance.doc, "State": {"Code": CODES[state], "Name": state}}
            private = dict(instance.private)
            if reason is not None:
                doc["StateReason"] = {"Code": reason[0], "Message": reason[1]}
                stamp = f"{_utc(now)} GMT"
                doc["StateTransitionReason"] = f"{reason[1].split(':')[0]} ({stamp})"
            elif state in ("pending", "running"):
                doc.pop("StateReason", None)
                doc["StateTransitionReason"] = ""
            if state == "pending":
                doc["LaunchTime"] = now
            if state == "terminated":
                private["ended"] = now
            updated.append((instance, doc, private))
        await self.store.update_instances([(i.instance_id, i.region, {"doc": d, "private": p}) for i, d, p in updated])
        for instance, doc, private in updated:
            instance.doc, instance.private = doc, private
        for instance in instances:
            if state == "terminated":
                with contextlib.suppress(OSError):  # its disk goes with it, as an EBS root volume does
                    shutil.rmtree(self.root / instance.instance_id)
            view = instance.view()
            for listener in list(self.listeners):
                try:
                    listener(view)
                except Exception:
                    log.exception("an instance listener failed")

    async def set_tags(self, instances: list[Instance], tags: dict[str, str | None]) -> None:
        """Add (value) or remove (None) tags, in one write."""
        updated = []
        for instance in instances:
            current = {t["Key"]: t["Value"] for t in instance.doc.get("Tags") or []}
            for key, value in tags.items():
                if value is None:
                    current.pop(key, None)
                else:
                    current[key] = value
            updated.append((instance, {**instance.doc, "Tags": [{"Key": k, "Value": v} for k, v in current.items()]}))
        await self.store.update_instances([(i.instance_id, i.region, {"doc": d, "private": i.private})
                                           for i, d in updated])
        for instance, doc in updated:
            instance.doc = doc


def _change(instance: Instance, before: str) -> dict[str, Any]:
    return {"InstanceId": instance.instance_id, "CurrentState": dict(instance.doc["State"]),
            "PreviousState": {"Code": CODES[before], "Name": before}}


def _utc(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def loopback_address(taken: set[str]) -> str:
    """An instance's private address: one of its own in 127.0.0.0/8 (Linux answers the whole block on the
    loopback interface), so the web servers of several instances listen on the same port as on separate
    machines, and a load balancer reaches each at its own address. 127.0.0.0/16 is left to the host."""
    while True:
        address = f"127.{random.randrange(1, 255)}.{random.randrange(0, 256)}.{random.randrange(1, 255)}"
        if address not in taken:
            return address


def base_environment() -> dict[str, str]:
    """The server's environment, less what would speak for the instance instead of its metadata."""
    return {k: v for k, v in os.environ.items() if k not in HIDDEN}
