"""Where a request goes: the first rule (by priority, the default rule last) whose conditions match, then
for a forward the target group (by weight, or the one the AWSALBTG cookie names while target group
stickiness lasts) and the target (round robin over the routable targets, or the one the AWSALB cookie
names while the group's stickiness lasts).

https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-target-groups.html:
- Round robin is the default routing algorithm.
- "If a target group contains only unhealthy registered targets, the load balancer routes requests to all
  those targets, regardless of their health status" (fail open); a group with no target to route to is
  503.
- Sticky sessions: https://docs.aws.amazon.com/elasticloadbalancing/latest/application/sticky-sessions.html
  (AWSALB / AWSALBCORS for duration-based stickiness, AWSALBTG / AWSALBTGCORS for target group
  stickiness); the cookies' values are opaque, here an encoding of the choice.
"""

from __future__ import annotations

import base64
import binascii
import random
from collections.abc import Callable, Mapping, Sequence
from http.cookies import CookieError, SimpleCookie
from typing import Any

from conveyor.services.elbv2.catalog import Catalog, Resource, Target
from conveyor.services.elbv2.conditions import RequestFacts, matches
from conveyor.services.elbv2.health import routable
from conveyor.services.elbv2.listeners import rule_order

TARGET_COOKIE, GROUP_COOKIE = "AWSALB", "AWSALBTG"


def select_rule(catalog: Catalog, listener: Resource, facts: RequestFacts) -> Resource | None:
    for rule in sorted(catalog.rules_of(listener.arn), key=rule_order):
        if matches(rule.doc.get("Conditions") or [], facts):
            return rule
    return None


def cookies(header: str | None) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header or "")
    except CookieError:
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


def _decode(value: str | None) -> list[str]:
    if not value:
        return []
    try:
        return base64.urlsafe_b64decode(value.encode() + b"==").decode().split("|")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return []


def encode(*parts: str) -> str:
    return base64.urlsafe_b64encode("|".join(parts).encode()).decode().rstrip("=")


def select_group(forward: Mapping[str, Any], sticky: Mapping[str, str]) -> str | None:
    """The target group of a forward action: the sticky one while it is still among them, else by weight."""
    groups: Sequence[Mapping[str, Any]] = forward["ForwardConfig"]["TargetGroups"]
    stickiness = forward["ForwardConfig"].get("TargetGroupStickinessConfig") or {}
    if stickiness.get("Enabled"):
        named = _decode(sticky.get(GROUP_COOKIE))
        if named and any(g["TargetGroupArn"] == named[0] and int(g.get("Weight", 1)) > 0 for g in groups):
            return named[0]
    weighted = [(str(g["TargetGroupArn"]), int(g.get("Weight", 1))) for g in groups]
    total = sum(w for _, w in weighted)
    if total <= 0:
        return None
    pick = random.uniform(0, total)
    for arn, weight in weighted:
        pick -= weight
        if pick <= 0 and weight > 0:
            return arn
    return next(arn for arn, weight in reversed(weighted) if weight > 0)


class RoundRobin:
    def __init__(self) -> None:
        self._next: dict[str, int] = {}

    def clear(self) -> None:
        self._next.clear()

    def select(self, group: Resource, targets: Mapping[tuple[str, int], Target], sticky: Mapping[str, str],
               reachable: Callable[[Target], bool]) -> Target | None:
        """`reachable`: whether the target can be sent a request at all (an instance that is running)."""
        live = [t for t in targets.values() if reachable(t)]
        candidates = [t for t in live if routable(t, group.doc)]
        if not candidates:
            # Fail open: only unhealthy (or not yet checked) targets left, and still registered.
            candidates = [t for t in live if t.draining_until is None]
        if not candidates:
            return None
        attributes = group.attributes
        if attributes.get("stickiness.enabled") == "true":
            named = _decode(sticky.get(TARGET_COOKIE))
            if len(named) == 3 and named[0] == group.arn:
                chosen = next((t for t in candidates if t.id == named[1] and str(t.port) == named[2]), None)
                if chosen is not None:
                    return chosen
        index = self._next.get(group.arn, 0)
        self._next[group.arn] = index + 1
        return sorted(candidates, key=lambda t: t.key)[index % len(candidates)]
