"""Another account's caller in EventBridge, within its own account (conveyor.authz.other_accounts).

On AWS every account has its `default` event bus without making it
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-bus.html); Conveyor holds one account, so
another account's own account holds that bus here and nothing else: no custom bus, no rule, no policy. A bus
or rule it names by name (or by an ARN with its own account id) is one of those: its `default` bus is
described and listed, the rules on it are none, anything else does not exist, in EventBridge's words
(ResourceNotFoundException "Event bus NAME does not exist.", "Rule NAME does not exist on EventBus
default."); what would make or change something there is AccessDenied (the service's
`other_account_creates`). The account's own buses and rules, named by ARN, are judged by the bus's policy
(conveyor.services.events.iam.CROSS_ACCOUNT); its listings are the account's own business: AccessDenied.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from conveyor.authz import Denial
from conveyor.services.events import errors, iam
from conveyor.services.events.catalog import DEFAULT_BUS, bus_arn
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from conveyor.services.events.api import EventsService

_BUS_OPERATIONS = frozenset({"CreateEventBus", "UpdateEventBus", "DeleteEventBus", "DescribeEventBus",
                             "PutPermission", "RemovePermission"})
_LISTINGS = {"ListRules": "Rules", "ListRuleNamesByTarget": "RuleNames"}


def _own(ctx: RequestContext, given: object) -> bool:
    return iam.bus_account(ctx, given) == iam.caller_account(ctx)


def _named_rule(params: Mapping[str, Any]) -> object:
    return params.get("Rule") if "Rule" in params else params.get("Name")


def missing(ctx: RequestContext, operation: str, params: Mapping[str, Any]) -> ServiceError | None:
    """The not-found error for a bus or rule of the caller's own account that it names; None where the
    request names none, names its `default` bus (which exists), or creates."""
    if operation in iam.TAG_OPERATIONS:
        arn = params.get("ResourceARN")
        if not isinstance(arn, str) or arn.split(":")[4:5] != [iam.caller_account(ctx)]:
            return None
        if ":rule/" in arn:
            bus, _, name = arn.split(":rule/", 1)[1].rpartition("/")
            return errors.rule_not_found(name, bus or DEFAULT_BUS)
        name = arn.rsplit("/", 1)[-1]
        return None if name == DEFAULT_BUS else errors.bus_not_found(name)  # its default bus: `answer`
    if operation not in iam.RULE_OPERATIONS and operation not in _BUS_OPERATIONS:
        return None
    given = iam.bus_param(operation, params)
    if not _own(ctx, given):
        return None
    name = iam.bus_name(given)
    if name != DEFAULT_BUS:
        # Deleting one that does not exist succeeds (API_DeleteEventBus.html); creating one is AccessDenied.
        return None if operation in ("CreateEventBus", "DeleteEventBus") else errors.bus_not_found(name)
    rule = _named_rule(params)
    if operation in iam.RULE_OPERATIONS and operation not in ("PutRule", "DeleteRule") and isinstance(rule, str):
        return errors.rule_not_found(rule, DEFAULT_BUS)
    if operation == "RemovePermission":
        return errors.not_found("EventBus does not have a policy.")
    return None


def _default_bus(ctx: RequestContext) -> dict[str, Any]:
    return {"Name": DEFAULT_BUS, "Arn": bus_arn(ctx.region, iam.caller_account(ctx), DEFAULT_BUS)}


def _denied(ctx: RequestContext, service: EventsService, operation: str, resource: str) -> ServiceError:
    caller = ctx.principal.arn if ctx.principal is not None else ""
    return service.access_denied(ctx, Denial(caller, f"events:{operation}", resource, False, None))


def answer(ctx: RequestContext, operation: str, params: Mapping[str, Any], service: EventsService) -> dict[str, Any] | None:
    """Another account's answer over its own account: its listings, its `default` bus, deletions of what
    it does not have (idempotent, as EventBridge's deletions are). None: the operation goes on, judged by
    the bus's policy."""
    if operation == "ListEventBuses":
        return {"EventBuses": [_default_bus(ctx)] if DEFAULT_BUS.startswith(params.get("NamePrefix") or "") else []}
    if operation in iam.TAG_OPERATIONS:
        arn = params.get("ResourceARN")
        if not isinstance(arn, str) or arn != bus_arn(ctx.region, iam.caller_account(ctx), DEFAULT_BUS):
            return None
        if operation == "ListTagsForResource":
            return {"Tags": []}  # its default bus, untagged
        raise _denied(ctx, service, operation, arn)  # changing its own account: Conveyor holds one account
    if operation in _LISTINGS:
        given = params.get("EventBusName")
        if not _own(ctx, given):
            raise _denied(ctx, service, operation, given if isinstance(given, str) else "*")
        name = iam.bus_name(given)
        if name != DEFAULT_BUS:
            raise errors.bus_not_found(name)
        return {_LISTINGS[operation]: []}
    if not _own(ctx, iam.bus_param(operation, params)):
        return None
    if operation == "DescribeEventBus":
        return _default_bus(ctx)
    if operation == "DeleteRule":
        return {}  # a rule that does not exist (API_DeleteRule.html)
    if operation == "DeleteEventBus":
        if iam.bus_name(params.get("Name")) == DEFAULT_BUS:
            raise errors.validation("Cannot delete event bus default.")
        return {}
    return None
