"""Events onto buses: PutEvents' entries checked and made into events, matched against the bus's enabled
rules, and the matches stored as deliveries before anyone is answered.

An event has the shape every EventBridge event has
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events-structure.html):
{"version": "0", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

from conveyor import ids
from conveyor.clock import Clock
from conveyor.services.event_patterns import matches
from conveyor.services.events.catalog import Catalog, Rule
from conveyor.services.retrying import DeliveryRow, Dispatcher

# PutEvents' entries together must stay under 256 KB, counted as AWS counts them.
# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html
MAX_REQUEST_BYTES = 256 * 1024
# An event forwarded by a bus-to-bus target is not forwarded again by the bus that receives it
# (eb-bus-to-bus.md: "EventBridge can't route events received from a sender event bus to a third event bus").
FORWARDED = "conveyor-forwarded"


def event_time(value: float) -> str:
    """Events' `time`: ISO 8601 to the second, in UTC."""
    return dt.datetime.fromtimestamp(value, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def entry_size(entry: Mapping[str, Any]) -> int:
    size = 14 if entry.get("Time") is not None else 0
    for name in ("Source", "DetailType", "Detail"):
        if entry.get(name) is not None:
            size += len(str(entry[name]).encode())
    return size + sum(len(str(r).encode()) for r in entry.get("Resources") or [] if r is not None)


def entry_error(entry: Mapping[str, Any]) -> dict[str, str] | None:
    """Why PutEvents refuses one entry (reported in its place, the others still go in), or None.
    https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEventsResultEntry.html"""
    for name in ("Source", "DetailType", "Detail"):
        if not entry.get(name):
            return {"ErrorCode": "InvalidArgument",
                    "ErrorMessage": f"Parameter {name} is not valid. Reason: {name} is a required argument."}
    try:
        detail = json.loads(entry["Detail"])
    except ValueError:
        detail = None
    if not isinstance(detail, dict):
        return {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}
    return None


def make_event(entry: Mapping[str, Any], account: str, region: str, now: float) -> dict[str, Any]:
    when = entry.get("Time")
    stamp = when.timestamp() if isinstance(when, dt.datetime) else now
    return {"version": "0", "id": ids.uuid4(), "detail-type": entry["DetailType"], "source": entry["Source"],
            "account": account, "time": event_time(stamp), "region": region,
            "resources": list(entry.get("Resources") or []), "detail": json.loads(entry["Detail"])}


class Router:
    """Matches events against rules and stores what they must be delivered to."""

    def __init__(self, catalog: Catalog, dispatcher: Dispatcher, clock: Clock) -> None:
        self.catalog = catalog
        self.dispatcher = dispatcher
        self.clock = clock
        self.matched = 0

    def deliveries(self, rule: Rule, event: dict[str, Any], now: float) -> list[DeliveryRow]:
        """One delivery per target of `rule` (ids taken here, before the write)."""
        chosen = rule.row.targets
        if event.get(FORWARDED):
            chosen = [t for t in chosen if str(t.get("Arn", "")).split(":")[2:3] != ["events"]]
        numbers = self.dispatcher.next_ids(len(chosen))
        clean = {k: v for k, v in event.items() if k != FORWARDED}
        return [DeliveryRow(number, rule.arn(self.catalog.account), target, clean, 0, now, now)
                for number, target in zip(numbers, chosen, strict=True)]

    def route(self, region: str, bus: str, events: Sequence[dict[str, Any]], now: float) -> list[DeliveryRow]:
        rows: list[DeliveryRow] = []
        rules = [r for r in self.catalog.rules_on(region, bus) if r.enabled and r.pattern is not None]
        for event in events:
            visible = {k: v for k, v in event.items() if k != FORWARDED}
            for rule in rules:
                assert rule.pattern is not None
                if matches(rule.pattern, visible):
                    self.matched += 1
                    rows.extend(self.deliveries(rule, event, now))
        return rows

    async def put(self, batches: Sequence[tuple[str, str, list[dict[str, Any]]]]) -> None:
        """Store the deliveries of events on buses ((region, bus, events) batches) in one commit, then start
        delivering them."""
        now = self.clock.now()
        rows: list[DeliveryRow] = []
        for region, bus, events in batches:
            rows.extend(self.route(region, bus, events, now))
        if rows:
            await self.catalog.store.add_deliveries(rows)
            self.dispatcher.schedule(rows)
