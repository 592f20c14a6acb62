"""What each Elastic Load Balancing operation asks IAM for (`--iam report|enforce`).

https://docs.aws.amazon.com/service-authorization/latest/reference/list_awselasticloadbalancingv2.html:
actions are `elasticloadbalancing:OPERATION`; an operation on a load balancer, target group, listener or
rule names its ARN (the first ARN member of the request); Create* and Describe* take "*"; AddTags and
RemoveTags name each resource.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conveyor.authz import Need

_ARN_MEMBERS = ("RuleArn", "ListenerArn", "TargetGroupArn", "LoadBalancerArn")


def needs(operation: str, params: Mapping[str, Any]) -> list[Need]:
    action = f"elasticloadbalancing:{operation}"
    if operation.startswith(("Describe", "Create")) and operation not in ("CreateListener", "CreateRule"):
        return [Need(action)]
    if operation in ("AddTags", "RemoveTags"):
        arns = [str(a) for a in params.get("ResourceArns") or []]
        return [Need(action, arn) for arn in arns] or [Need(action)]
    if operation == "SetRulePriorities":
        arns = [str(p.get("RuleArn")) for p in params.get("RulePriorities") or [] if p.get("RuleArn")]
        return [Need(action, arn) for arn in arns] or [Need(action)]
    for member in _ARN_MEMBERS:
        value = params.get(member)
        if isinstance(value, str) and value:
            return [Need(action, value)]
    return [Need(action)]
