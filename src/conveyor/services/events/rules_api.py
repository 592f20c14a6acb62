"""EventBridge's operations on rules and their targets, and TestEventPattern.
https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_Operations.html
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from conveyor.services import event_patterns as patterns
from conveyor.services import schedule_expressions as expressions
from conveyor.services.events import errors, targets
from conveyor.services.events.catalog import DEFAULT_BUS, Rule
from conveyor.services.events.engine import Engine
from conveyor.services.events.store import RuleRow
from conveyor.wire import RequestContext

if TYPE_CHECKING:
    from mypy_boto3_events.type_defs import (
        DeleteRuleRequestTypeDef,
        DescribeRuleRequestTypeDef,
        DisableRuleRequestTypeDef,
        EnableRuleRequestTypeDef,
        ListRuleNamesByTargetRequestTypeDef,
        ListRulesRequestTypeDef,
        ListTargetsByRuleRequestTypeDef,
        PutRuleRequestTypeDef,
        PutTargetsRequestTypeDef,
        RemoveTargetsRequestTypeDef,
        TestEventPatternRequestTypeDef,
    )

MAX_RULES_PER_BUS = 300  # https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html
PAGE = 100
# TestEventPattern's event must carry the envelope's fields.
# https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_TestEventPattern.html
_EVENT_FIELDS = ("id", "account", "source", "time", "region", "detail-type")


def page(items: Sequence[Any], token: str | None, limit: int | None) -> tuple[list[Any], str | None]:
    """Name-ordered pages; the token is the index of the next item."""
    try:
        start = int(token) if token else 0
    except ValueError:
        raise errors.validation("The nextToken is not valid.")
    size = limit or PAGE
    chosen = list(items[start:start + size])
    return chosen, str(start + size) if start + size < len(items) else None


def describe(rule: Rule, account: str, *, created_by: bool) -> dict[str, Any]:
    row = rule.row
    out: dict[str, Any] = {"Name": row.name, "Arn": rule.arn(account), "State": row.state, "EventBusName": row.bus}
    for member, value in (("EventPattern", row.pattern), ("ScheduleExpression", row.schedule),
                          ("Description", row.description), ("RoleArn", row.role_arn)):
        if value is not None:
            out[member] = value
    if created_by:
        # "If you use PutRule to put a rule on an event bus in another account, the other account is the owner
        # of the rule, and the rule ARN includes the account ID for that account. However, the value for
        # CreatedBy is the account ID as the account that created the rule in the other account."
        # (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_DescribeRule.html)
        out["CreatedBy"] = row.creator or account
    return out


class RuleOperations:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _rule(self, ctx: RequestContext, name: str, bus: str | None) -> Rule:
        catalog = self.engine.catalog
        found = catalog.bus(ctx.region, bus)
        return catalog.rule(ctx.region, found.name, name)

    # -- rules -------------------------------------------------------------------------------------------
    async def PutRule(self, ctx: RequestContext, params: PutRuleRequestTypeDef) -> dict[str, Any]:
        catalog = self.engine.catalog
        bus = catalog.bus(ctx.region, params.get("EventBusName"))
        pattern, schedule = params.get("EventPattern"), params.get("ScheduleExpression")
        if not pattern and not schedule:
            raise errors.validation("Parameter(s) EventPattern or ScheduleExpression must be specified.")
        if pattern:
            try:
                patterns.parse(pattern)
            except patterns.PatternError as exc:
                raise errors.invalid_pattern(str(exc))
        if schedule:
            if bus.name != DEFAULT_BUS:
                raise errors.validation("ScheduleExpression is supported only on the default event bus.")
            try:
                expressions.parse(schedule)
            except expressions.ExpressionError:
                raise errors.invalid_schedule()
        name = params["Name"]
        now = self.engine.clock.now()
        async with catalog.mutex:
            existing = catalog.rules.get((ctx.region, bus.name, name))
            if existing is None and len(catalog.rules_on(ctx.region, bus.name)) >= MAX_RULES_PER_BUS:
                raise errors.limit("The requested resource exceeds the maximum number allowed.")
            state = params.get("State") or "ENABLED"
            if existing is not None:
                # A changed schedule starts counting its rate from now; tags are kept as they were.
                same = existing.row.schedule == schedule
                row = dataclasses.replace(
                    existing.row, pattern=pattern or None, schedule=schedule or None, state=state,
                    description=params.get("Description"), role_arn=params.get("RoleArn"),
                    anchor=existing.row.anchor if same else now,
                    last_fired=existing.row.last_fired if same else None)
            else:
                row = RuleRow(ctx.region, bus.name, name, pattern or None, schedule or None, state,
                              params.get("Description"), params.get("RoleArn"),
                              {t["Key"]: t["Value"] for t in params.get("Tags") or []}, [], now, now, None,
                              _creator(ctx, self.engine.account))
            rule = await catalog.save_rule(row)
        self.engine.scheduler.arm(rule)
        return {"RuleArn": rule.arn(self.engine.account)}

    async def DeleteRule(self, ctx: RequestContext, params: DeleteRuleRequestTypeDef) -> dict[str, Any]:
        catalog = self.engine.catalog
        bus = catalog.bus(ctx.region, params.get("EventBusName"))
        async with catalog.mutex:
            rule = catalog.rules.get((ctx.region, bus.name, params["Name"]))
            if rule is None:  # deleting is idempotent (API_DeleteRule.html)
                return {}
            if rule.row.targets:
                raise errors.validation("Rule can't be deleted since it has targets.")
            await catalog.drop_rule(rule)
        self.engine.scheduler.disarm(rule)
        return {}

    async def DescribeRule(self, ctx: RequestContext, params: DescribeRuleRequestTypeDef) -> dict[str, Any]:
        rule = self._rule(ctx, params["Name"], params.get("EventBusName"))
        return describe(rule, self.engine.account, created_by=True)

    async def _set_state(self, ctx: RequestContext, name: str, bus: str | None, state: str) -> dict[str, Any]:
        catalog = self.engine.catalog
        async with catalog.mutex:
            rule = self._rule(ctx, name, bus)
            if rule.row.state != state:
                rule = await catalog.update_rule(rule, state=state)
        self.engine.scheduler.arm(rule)
        return {}

    async def EnableRule(self, ctx: RequestContext, params: EnableRuleRequestTypeDef) -> dict[str, Any]:
        return await self._set_state(ctx, params["Name"], params.get("EventBusName"), "ENABLED")

    async def DisableRule(self, ctx: RequestContext, params: DisableRuleRequestTypeDef) -> dict[str, Any]:
        return await self._set_state(ctx, params["Name"], params.get("EventBusName"), "DISABLED")

    async def ListRules(self, ctx: RequestContext, params: ListRulesRequestTypeDef) -> dict[str, Any]:
        catalog = self.engine.catalog
        bus = catalog.bus(ctx.region, params.get("EventBusName"))
        prefix = params.get("NamePrefix") or ""
        rules = [r for r in catalog.rules_on(ctx.region, bus.name) if r.name.startswith(prefix)]
        chosen, token = page(rules, params.get("NextToken"), params.get("Limit"))
        out: dict[str, Any] = {"Rules": [describe(r, self.engine.account, created_by=False) for r in chosen]}
        if token:
            out["NextToken"] = token
        return out

    async def ListRuleNamesByTarget(self, ctx: RequestContext,
                                    params: ListRuleNamesByTargetRequestTypeDef) -> dict[str, Any]:
        catalog = self.engine.catalog
        bus = catalog.bus(ctx.region, params.get("EventBusName"))
        names = [r.name for r in catalog.rules_on(ctx.region, bus.name)
                 if any(t.get("Arn") == params["TargetArn"] for t in r.row.targets)]
        chosen, token = page(names, params.get("NextToken"), params.get("Limit"))
        out: dict[str, Any] = {"RuleNames": chosen}
        if token:
            out["NextToken"] = token
        return out

    # -- targets -----------------------------------------------------------------------------------------
    async def PutTargets(self, ctx: RequestContext, params: PutTargetsRequestTypeDef) -> dict[str, Any]:
        queues = self.engine.ports.queues
        given = [dict(t) for t in params["Targets"]]
        for target in given:
            targets.check_target(target, lambda arn: queues.is_fifo(arn) if queues is not None else None)
        catalog = self.engine.catalog
        async with catalog.mutex:
            rule = self._rule(ctx, params["Rule"], params.get("EventBusName"))
            kept = {t["Id"]: t for t in rule.row.targets}
            for target in given:
                kept[target["Id"]] = _stored(target)
            if len(kept) > targets.MAX_TARGETS:
                raise errors.limit("The requested resource exceeds the maximum number allowed.")
            rule = await catalog.update_rule(rule, targets=list(kept.values()))
        self.engine.scheduler.arm(rule)
        return {"FailedEntryCount": 0, "FailedEntries": []}

    async def RemoveTargets(self, ctx: RequestContext, params: RemoveTargetsRequestTypeDef) -> dict[str, Any]:
        catalog = self.engine.catalog
        async with catalog.mutex:
            rule = self._rule(ctx, params["Rule"], params.get("EventBusName"))
            drop = set(params["Ids"])
            kept = [t for t in rule.row.targets if t["Id"] not in drop]
            if len(kept) != len(rule.row.targets):
                rule = await catalog.update_rule(rule, targets=kept)
        self.engine.scheduler.arm(rule)
        return {"FailedEntryCount": 0, "FailedEntries": []}

    async def ListTargetsByRule(self, ctx: RequestContext, params: ListTargetsByRuleRequestTypeDef) -> dict[str, Any]:
        rule = self._rule(ctx, params["Rule"], params.get("EventBusName"))
        chosen, token = page(rule.row.targets, params.get("NextToken"), params.get("Limit"))
        out: dict[str, Any] = {"Targets": chosen}
        if token:
            out["NextToken"] = token
        return out

    # -- patterns ----------------------------------------------------------------------------------------
    async def TestEventPattern(self, ctx: RequestContext, params: TestEventPatternRequestTypeDef) -> dict[str, Any]:
        try:
            pattern = patterns.parse(params["EventPattern"])
        except patterns.PatternError as exc:
            raise errors.invalid_pattern(str(exc))
        try:
            event = json.loads(params["Event"])
        except ValueError:
            event = None
        if not isinstance(event, dict) or any(name not in event for name in _EVENT_FIELDS):
            raise errors.validation("Parameter Event is not valid.")
        return {"Result": patterns.matches(pattern, event)}


def _creator(ctx: RequestContext, account: str) -> str | None:
    """Another account making a rule on this account's bus (as the bus's policy lets it): that account."""
    caller = ctx.principal.account_id if ctx.principal is not None else account
    return caller if caller != account else None


def _stored(target: dict[str, Any]) -> dict[str, Any]:
    """A target as ListTargetsByRule gives it back: what was given, without empty members."""
    return {k: v for k, v in target.items() if v is not None}
