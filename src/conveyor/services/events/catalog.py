"""Event buses and rules in memory (they are few), changed only after their write commits.

Every region has its `default` bus without anyone making it; it gets a row only once it has a policy or
tags. A rule's ARN names its bus unless that is the default one:
arn:aws:events:REGION:ACCOUNT:rule/NAME, arn:aws:events:REGION:ACCOUNT:rule/BUS/NAME.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from typing import Any

from conveyor.services import event_patterns as patterns
from conveyor.services import schedule_expressions as expressions
from conveyor.services.events import errors
from conveyor.services.events.store import BusRow, EventsStore, RuleRow

DEFAULT_BUS = "default"


@dataclass
class Rule:
    row: RuleRow
    pattern: dict[str, Any] | None  # parsed
    schedule: expressions.Expression | None  # parsed

    @property
    def name(self) -> str:
        return self.row.name

    @property
    def enabled(self) -> bool:
        return self.row.state != "DISABLED"

    def arn(self, account: str) -> str:
        return rule_arn(self.row.region, account, self.row.bus, self.row.name)


def rule_arn(region: str, account: str, bus: str, name: str) -> str:
    path = name if bus == DEFAULT_BUS else f"{bus}/{name}"
    return f"arn:aws:events:{region}:{account}:rule/{path}"


def bus_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:events:{region}:{account}:event-bus/{name}"


def make_rule(row: RuleRow) -> Rule:
    pattern = patterns.parse(row.pattern) if row.pattern else None
    schedule = expressions.parse(row.schedule) if row.schedule else None
    return Rule(row, pattern, schedule)


class Catalog:
    def __init__(self, store: EventsStore, account: str) -> None:
        self.store = store
        self.account = account
        self.buses: dict[tuple[str, str], BusRow] = {}
        self.rules: dict[tuple[str, str, str], Rule] = {}
        # Changes one at a time: each computes its row from what is in memory, then writes it.
        self.mutex = asyncio.Lock()

    def load(self) -> None:
        for bus in self.store.buses():
            self.buses[(bus.region, bus.name)] = bus
        for row in self.store.rules():
            self.rules[(row.region, row.bus, row.name)] = make_rule(row)

    def clear(self) -> None:
        self.buses.clear()
        self.rules.clear()

    # -- buses -----------------------------------------------------------------------------------------
    def bus_name(self, given: str | None) -> str:
        """A bus named by name or ARN (EventBusName accepts both)."""
        if not given:
            return DEFAULT_BUS
        if given.startswith("arn:"):
            return given.split(":event-bus/", 1)[-1]
        return given

    def find_bus(self, region: str, name: str) -> BusRow | None:
        found = self.buses.get((region, name))
        if found is None and name == DEFAULT_BUS:
            return BusRow(region, DEFAULT_BUS, None, None, {}, 0.0)
        return found

    def bus(self, region: str, given: str | None) -> BusRow:
        name = self.bus_name(given)
        found = self.find_bus(region, name)
        if found is None:
            raise errors.bus_not_found(name)
        return found

    def bus_from_arn(self, arn: str) -> BusRow | None:
        parts = arn.split(":")
        if len(parts) < 6 or parts[2] != "events" or not parts[5].startswith("event-bus/"):
            return None
        if parts[4] != self.account:
            return None
        return self.find_bus(parts[3], parts[5][len("event-bus/"):])

    def bus_holding(self, arn: str) -> BusRow | None:
        """The bus of this account an ARN names: the bus itself, or the bus a rule is on (a bus's policy
        covers the rules on it: `Resource` `arn:aws:events:REGION:ACCOUNT:rule/BUS/*`,
        https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-bus-example-policy-same-account-creator.html)."""
        parts = arn.split(":", 5)
        if len(parts) < 6 or parts[2] != "events" or parts[4] != self.account:
            return None
        if parts[5].startswith("rule/"):
            bus = parts[5][len("rule/"):].rpartition("/")[0]
            return self.find_bus(parts[3], bus or DEFAULT_BUS)
        return self.bus_from_arn(arn)

    def buses_in(self, region: str) -> list[BusRow]:
        found = {name: bus for (r, name), bus in self.buses.items() if r == region}
        found.setdefault(DEFAULT_BUS, BusRow(region, DEFAULT_BUS, None, None, {}, 0.0))
        return sorted(found.values(), key=lambda b: b.name)

    async def save_bus(self, bus: BusRow) -> None:
        await self.store.put_bus(bus)
        self.buses[(bus.region, bus.name)] = bus

    async def drop_bus(self, bus: BusRow) -> None:
        await self.store.delete_bus(bus.region, bus.name)
        self.buses.pop((bus.region, bus.name), None)
        for key in [k for k in self.rules if k[0] == bus.region and k[1] == bus.name]:
            del self.rules[key]

    # -- rules -----------------------------------------------------------------------------------------
    def rule(self, region: str, bus: str, name: str) -> Rule:
        found = self.rules.get((region, bus, name))
        if found is None:
            raise errors.rule_not_found(name, bus)
        return found

    def rules_on(self, region: str, bus: str) -> list[Rule]:
        return sorted((r for (reg, b, _), r in self.rules.items() if reg == region and b == bus),
                      key=lambda r: r.name)

    def rule_from_arn(self, arn: str) -> Rule | None:
        parts = arn.split(":", 5)
        if len(parts) < 6 or parts[2] != "events" or not parts[5].startswith("rule/") or parts[4] != self.account:
            return None
        path = parts[5][len("rule/"):]
        bus, _, name = path.rpartition("/")
        return self.rules.get((parts[3], bus or DEFAULT_BUS, name))

    async def save_rule(self, row: RuleRow) -> Rule:
        rule = make_rule(row)
        await self.store.put_rule(row)
        self.rules[(row.region, row.bus, row.name)] = rule
        return rule

    async def update_rule(self, rule: Rule, **changes: Any) -> Rule:
        return await self.save_rule(dataclasses.replace(rule.row, **changes))

    async def drop_rule(self, rule: Rule) -> None:
        await self.store.delete_rule(rule.row.region, rule.row.bus, rule.row.name)
        self.rules.pop((rule.row.region, rule.row.bus, rule.row.name), None)
