"""Which load balancers forward to a target group: through a listener's default actions or a rule's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from conveyor.services.elbv2.catalog import LISTENER, RULE, Catalog


def forwarded_groups(actions: list[dict[str, Any]]) -> Iterator[str]:
    """The target group ARNs a list of actions forwards to."""
    for action in actions:
        if action.get("Type") != "forward":
            continue
        if action.get("TargetGroupArn"):
            yield str(action["TargetGroupArn"])
        for weighted in (action.get("ForwardConfig") or {}).get("TargetGroups") or []:
            yield str(weighted["TargetGroupArn"])


def balancers_of(catalog: Catalog, group_arn: str) -> list[str]:
    found: list[str] = []
    for resource in catalog.resources.values():
        if resource.kind == LISTENER:
            actions, balancer = resource.doc.get("DefaultActions") or [], resource.doc["LoadBalancerArn"]
        elif resource.kind == RULE:
            actions, balancer = resource.doc.get("Actions") or [], resource.doc["_LoadBalancerArn"]
        else:
            continue
        if group_arn in forwarded_groups(actions) and balancer not in found:
            found.append(balancer)
    return found


def in_use(catalog: Catalog, group_arn: str) -> bool:
    return bool(balancers_of(catalog, group_arn))
