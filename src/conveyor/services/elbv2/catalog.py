"""The load balancers, target groups, listeners and rules in memory, and their registered targets: the
store is written first, memory changed once the write is committed.

Each resource is its document in the model's member names (what Describe* answers), plus `_tags` (a list
of {Key, Value}) and `_attributes` (key -> value), which Describe* leaves out."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from conveyor.services.elbv2.store import ElbStore

BALANCER, TARGET_GROUP, LISTENER, RULE = "loadbalancer", "targetgroup", "listener", "rule"


@dataclass
class Resource:
    arn: str
    kind: str
    region: str
    doc: dict[str, Any]

    def public(self) -> dict[str, Any]:
        """The document as Describe* answers it."""
        return {k: v for k, v in self.doc.items() if not k.startswith("_")}

    @property
    def tags(self) -> list[dict[str, str]]:
        return list(self.doc.get("_tags") or [])

    @property
    def attributes(self) -> dict[str, str]:
        return dict(self.doc.get("_attributes") or {})


@dataclass
class Target:
    """A registered target and what the health checks found. `draining_until`: deregistered, and draining
    until then (the target group's deregistration delay). The state the checks reached (and its reason) is
    stored when it changes, so after a restart a healthy target is still healthy (it is checked again at
    once, and it takes UnhealthyThresholdCount failures to change that, as without a restart); the counts
    of consecutive results start anew."""

    id: str
    port: int
    zone: str | None
    registered: float
    draining_until: float | None = None
    state: str = "initial"
    reason: str | None = "Elb.RegistrationInProgress"
    successes: int = 0  # consecutive
    failures: int = 0  # consecutive
    checked: bool = False  # a first health check has completed
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, int]:
        return (self.id, self.port)

    def stored(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"Id": self.id, "Port": self.port, "_registered": self.registered}
        if self.zone:
            doc["AvailabilityZone"] = self.zone
        if self.draining_until is not None:
            doc["_draining_until"] = self.draining_until
        doc.update(self.stored_health())
        return doc

    def stored_health(self) -> dict[str, Any]:
        return {"_state": self.state, "_reason": self.reason, "_code": self.extra.get("code")}

    @classmethod
    def from_stored(cls, doc: dict[str, Any]) -> Target:
        target = cls(doc["Id"], int(doc["Port"]), doc.get("AvailabilityZone"), float(doc.get("_registered", 0.0)),
                     doc.get("_draining_until"))
        if doc.get("_state"):
            target.state, target.reason = str(doc["_state"]), doc.get("_reason")
            if doc.get("_code") is not None:
                target.extra["code"] = doc["_code"]
        return target


def new_id(length: int = 16) -> str:
    return secrets.token_hex(length // 2)


class Catalog:
    def __init__(self, store: ElbStore) -> None:
        self.store = store
        self.resources: dict[str, Resource] = {}
        self.targets: dict[str, dict[tuple[str, int], Target]] = {}  # target group ARN -> its targets
        for arn, kind, region, doc in store.resources():
            self.resources[arn] = Resource(arn, kind, region, doc)
        for group_arn, doc in store.targets():
            target = Target.from_stored(doc)
            self.targets.setdefault(group_arn, {})[target.key] = target

    def clear(self) -> None:
        self.resources.clear()
        self.targets.clear()

    # -- reads -------------------------------------------------------------------------------------------
    def of_kind(self, kind: str, region: str) -> list[Resource]:
        """In creation order."""
        return [r for r in self.resources.values() if r.kind == kind and r.region == region]

    def get(self, arn: str, kind: str, region: str | None = None) -> Resource | None:
        found = self.resources.get(arn)
        if found is None or found.kind != kind or (region is not None and found.region != region):
            return None
        return found

    def listeners_of(self, balancer_arn: str) -> list[Resource]:
        return [r for r in self.resources.values() if r.kind == LISTENER and r.doc["LoadBalancerArn"] == balancer_arn]

    def rules_of(self, listener_arn: str) -> list[Resource]:
        return [r for r in self.resources.values() if r.kind == RULE and r.doc["_ListenerArn"] == listener_arn]

    def group_targets(self, group_arn: str) -> dict[tuple[str, int], Target]:
        return self.targets.get(group_arn, {})

    # -- writes (store first) ----------------------------------------------------------------------------
    async def save(self, *resources: Resource, grows: bool = True) -> None:
        await self.store.put([(r.arn, r.kind, r.region, r.doc) for r in resources], grows=grows)
        for resource in resources:
            self.resources[resource.arn] = resource

    async def remove(self, arns: Iterable[str]) -> None:
        arns = list(arns)
        groups = [a for a in arns if a in self.resources and self.resources[a].kind == TARGET_GROUP]
        await self.store.delete(arns, groups)
        for arn in arns:
            self.resources.pop(arn, None)
        for arn in groups:
            self.targets.pop(arn, None)

    async def put_targets(self, group_arn: str, targets: list[Target]) -> None:
        await self.store.put_targets(group_arn, [t.stored() for t in targets])
        held = self.targets.setdefault(group_arn, {})
        for target in targets:
            held[target.key] = target

    async def drop_targets(self, group_arn: str, keys: list[tuple[str, int]]) -> None:
        await self.store.delete_targets(group_arn, keys)
        held = self.targets.get(group_arn, {})
        for key in keys:
            held.pop(key, None)
