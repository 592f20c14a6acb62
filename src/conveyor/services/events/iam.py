"""What each EventBridge operation asks IAM for (`--iam report|enforce`).

https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoneventbridge.html:
- Rule operations (PutRule, DeleteRule, DescribeRule, EnableRule, DisableRule, PutTargets, RemoveTargets,
  ListTargetsByRule) act on the rule: `arn:aws:events:REGION:ACCOUNT:rule/NAME` on the default bus,
  `arn:aws:events:REGION:ACCOUNT:rule/BUS/NAME` on another one.
- Bus operations (CreateEventBus, UpdateEventBus, DeleteEventBus, DescribeEventBus, PutPermission,
  RemovePermission) and PutEvents act on the bus: `arn:aws:events:REGION:ACCOUNT:event-bus/NAME`. PutEvents
  needs events:PutEvents on every bus its entries name (the default one for an entry naming none).
- PutTargets also needs iam:PassRole on each target's RoleArn, with iam:PassedToService
  events.amazonaws.com (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-identity-based.html).
- Tags act on the resource their ResourceARN names; ListRules, ListRuleNamesByTarget, ListEventBuses and
  TestEventPattern act on no resource ("*"); so do the operations Conveyor does not serve.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conveyor.authz import Denial, Need
from conveyor.services.events.catalog import DEFAULT_BUS, bus_arn, rule_arn
from conveyor.wire import RequestContext, ServiceError

EVENTS_PRINCIPAL = "events.amazonaws.com"
_RULE_OPERATIONS = {"PutRule", "DeleteRule", "DescribeRule", "EnableRule", "DisableRule", "PutTargets",
                    "RemoveTargets", "ListTargetsByRule"}
_BUS_OPERATIONS = {"CreateEventBus", "UpdateEventBus", "DeleteEventBus", "DescribeEventBus", "PutPermission",
                   "RemovePermission"}


def _bus_name(given: object) -> str:
    """The bus an EventBusName (a name or an ARN) names; the default one when none."""
    if not isinstance(given, str) or not given:
        return DEFAULT_BUS
    return given.split(":event-bus/", 1)[-1] if given.startswith("arn:") else given


def _bus(ctx: RequestContext, given: object) -> str:
    if isinstance(given, str) and given.startswith("arn:") and ":event-bus/" in given:
        return given  # another region's or account's bus keeps its own ARN
    return bus_arn(ctx.region, ctx.account_id, _bus_name(given))


def needs(ctx: RequestContext, operation: str, params: Mapping[str, Any]) -> list[Need]:
    action = f"events:{operation}"
    if operation in _RULE_OPERATIONS:
        name = params.get("Rule") if "Rule" in params else params.get("Name")
        if not isinstance(name, str):
            return [Need(action)]
        out = [Need(action, rule_arn(ctx.region, ctx.account_id, _bus_name(params.get("EventBusName")), name))]
        if operation == "PutTargets":
            for target in params.get("Targets") or []:
                role = target.get("RoleArn") if isinstance(target, dict) else None
                if isinstance(role, str) and role:
                    out.append(Need("iam:PassRole", role, {"iam:PassedToService": EVENTS_PRINCIPAL}))
        return out
    if operation in _BUS_OPERATIONS:
        given = params.get("Name") if operation.endswith("EventBus") else params.get("EventBusName")
        return [Need(action, _bus(ctx, given))]
    if operation == "PutEvents":
        entries = params.get("Entries") or []
        buses = dict.fromkeys(_bus(ctx, e.get("EventBusName") if isinstance(e, dict) else None) for e in entries)
        return [Need(action, arn) for arn in buses] or [Need(action, _bus(ctx, None))]
    if operation in ("TagResource", "UntagResource", "ListTagsForResource"):
        resource = params.get("ResourceARN")
        return [Need(action, resource if isinstance(resource, str) and resource else "*")]
    return [Need(action)]


def access_denied(denial: Denial) -> ServiceError:
    """EventBridge answers a denial with HTTP 400, as its other client errors: "AccessDeniedException ...
    HTTP Status Code: 400" (https://docs.aws.amazon.com/eventbridge/latest/APIReference/CommonErrors.html)."""
    return ServiceError("AccessDeniedException", denial.message(), 400)
