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

A bus or rule named by name is one of the caller's own account; another account's bus is named by its ARN
(eb-event-bus-perms.html: "EventBridge APIs that accept an event bus Name parameter ... also accept the event
bus ARN ... to reference cross-account ... event buses"). A rule made before carries `events:creatorAccount`,
the account that made it, for a bus policy that lets other accounts manage only their own rules
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-bus-example-policy-same-account-creator.html).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from conveyor.authz import Denial, Need
from conveyor.services.events.catalog import DEFAULT_BUS, Catalog, bus_arn, rule_arn
from conveyor.wire import RequestContext, ServiceError

EVENTS_PRINCIPAL = "events.amazonaws.com"
_RULE_OPERATIONS = {"PutRule", "DeleteRule", "DescribeRule", "EnableRule", "DisableRule", "PutTargets",
                    "RemoveTargets", "ListTargetsByRule"}
_BUS_OPERATIONS = {"CreateEventBus", "UpdateEventBus", "DeleteEventBus", "DescribeEventBus", "PutPermission",
                   "RemovePermission"}
RULE_OPERATIONS = frozenset(_RULE_OPERATIONS)
TAG_OPERATIONS = frozenset({"TagResource", "UntagResource", "ListTagsForResource"})
# What another account's principals may do on a bus whose policy lets them: put events, and manage rules
# on it (eb-event-bus-perms.html: "you can allow PutEvents, PutRule, and PutTargets API calls from another
# account"; the example policies add DeleteRule, DescribeRule, DisableRule, EnableRule and RemoveTargets).
# The bus itself (its description, policy, tags, deletion) and its listings stay with its own account.
CROSS_ACCOUNT = frozenset({"PutEvents", "PutRule", "PutTargets", "DeleteRule", "RemoveTargets", "DisableRule",
                           "EnableRule", "DescribeRule", "ListTargetsByRule"})


def caller_account(ctx: RequestContext) -> str:
    return ctx.principal.account_id if ctx.principal is not None else ctx.account_id


def bus_param(operation: str, params: Mapping[str, Any]) -> object:
    """The member naming the operation's bus: `Name` for the bus operations, else `EventBusName`."""
    return params.get("Name") if operation.endswith("EventBus") else params.get("EventBusName")


def bus_account(ctx: RequestContext, given: object) -> str:
    """The account whose bus `given` names: an ARN's, else the caller's own."""
    if isinstance(given, str) and given.startswith("arn:") and ":event-bus/" in given:
        return given.split(":")[4]
    return caller_account(ctx)


def bus_name(given: object) -> str:
    """The bus an EventBusName (a name or an ARN) names; the default one when none."""
    if not isinstance(given, str) or not given:
        return DEFAULT_BUS
    return given.split(":event-bus/", 1)[-1] if given.startswith("arn:") else given


def _bus(ctx: RequestContext, given: object) -> str:
    if isinstance(given, str) and given.startswith("arn:") and ":event-bus/" in given:
        return given  # another region's or account's bus keeps its own ARN
    return bus_arn(ctx.region, caller_account(ctx), bus_name(given))


def needs(ctx: RequestContext, catalog: Catalog | None, operation: str, params: Mapping[str, Any]) -> list[Need]:
    action = f"events:{operation}"
    if operation in _RULE_OPERATIONS:
        name = params.get("Rule") if "Rule" in params else params.get("Name")
        if not isinstance(name, str):
            return [Need(action)]
        given = params.get("EventBusName")
        account, bus = bus_account(ctx, given), bus_name(given)
        made = catalog.rules.get((ctx.region, bus, name)) if catalog is not None and account == catalog.account else None
        context: dict[str, str | list[str]] = {}
        if made is not None:
            context["events:creatorAccount"] = made.row.creator or account
        if operation == "PutRule":
            context.update(_matched(params.get("EventPattern")))
        out = [Need(action, rule_arn(ctx.region, account, bus, name), context or None)]
        if operation == "PutTargets":
            for target in params.get("Targets") or []:
                role = target.get("RoleArn") if isinstance(target, dict) else None
                if isinstance(role, str) and role:
                    out.append(Need("iam:PassRole", role, {"iam:PassedToService": EVENTS_PRINCIPAL}))
        return out
    if operation in _BUS_OPERATIONS:
        return [Need(action, _bus(ctx, bus_param(operation, params)))]
    if operation == "PutEvents":
        return _put_events_needs(ctx, action, params.get("Entries") or [])
    if operation in ("TagResource", "UntagResource", "ListTagsForResource"):
        resource = params.get("ResourceARN")
        return [Need(action, resource if isinstance(resource, str) and resource else "*")]
    return [Need(action)]


def _matched(pattern: object) -> dict[str, list[str]]:
    """PutRule's `events:source` and `events:detail-type`: the values its pattern matches in those fields
    (eb-use-conditions.html; a bus policy may let another account make rules only for one source:
    eb-event-bus-example-policy-same-account-creator.html). A pattern without them leaves the keys out."""
    try:
        parsed = json.loads(pattern) if isinstance(pattern, str) else None
    except ValueError:
        return {}
    if not isinstance(parsed, dict):
        return {}
    keys = {}
    for field in ("source", "detail-type"):
        values = parsed.get(field)
        if isinstance(values, list) and any(isinstance(v, str) for v in values):
            keys[f"events:{field}"] = [v for v in values if isinstance(v, str)]
    return keys


def _put_events_needs(ctx: RequestContext, action: str, entries: list[Any]) -> list[Need]:
    """events:PutEvents on each bus the entries name, with the `events:source` and `events:detail-type` of the
    entries bound there (multi-valued: a bus policy's `ForAllValues:StringEquals` holds every entry to them,
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-bus-example-policy-cross-account-custom-bus-source.html)."""
    buses: dict[str, tuple[dict[str, None], dict[str, None]]] = {}
    for entry in entries:
        named = entry.get("EventBusName") if isinstance(entry, dict) else None
        sources, types = buses.setdefault(_bus(ctx, named), ({}, {}))
        if isinstance(entry, dict) and isinstance(entry.get("Source"), str):
            sources[entry["Source"]] = None
        if isinstance(entry, dict) and isinstance(entry.get("DetailType"), str):
            types[entry["DetailType"]] = None
    needs = []
    for arn, (sources, types) in buses.items():
        context: dict[str, str | list[str]] = {}
        if sources:
            context["events:source"] = list(sources)
        if types:
            context["events:detail-type"] = list(types)
        needs.append(Need(action, arn, context or None))
    return needs or [Need(action, _bus(ctx, None))]


def access_denied(denial: Denial) -> ServiceError:
    """EventBridge answers a denial with HTTP 400, as its other client errors: "AccessDeniedException ...
    HTTP Status Code: 400" (https://docs.aws.amazon.com/eventbridge/latest/APIReference/CommonErrors.html)."""
    return ServiceError("AccessDeniedException", denial.message(), 400)
