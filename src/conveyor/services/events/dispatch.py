"""Delivering matched events: EventBridge's side of the shared delivery outbox (conveyor.services.retrying),
which tries each stored delivery, retries it on the clock per the target's RetryPolicy and dead-letters it
when it must. Here: one attempt at handing an event to its target, and the dead-letter step with the
attributes EventBridge adds. https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html

Each delivery's end is counted in the rule's AWS/Events metrics, by RuleName and by EventBusName and
RuleName (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html): Invocations for
every delivery that ended (after its retries), FailedInvocations for those that failed for good,
InvocationsSentToDlq and InvocationsFailedToBeSentToDlq for the dead-letter step.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from conveyor.clock import Clock
from conveyor.ports import Ports
from conveyor.protocol.base import iso8601
from conveyor.services.events import targets
from conveyor.services.events.store import EventsStore
from conveyor.services.retrying import DeliveryFailed, DeliveryRow, Dispatcher

BusPutter = Callable[[str, dict[str, Any]], Awaitable[None]]
NAMESPACE = "AWS/Events"


def _rule_name(rule_arn: str) -> str:
    return rule_arn.rsplit("/", 1)[-1]


def _count(ports: Ports, rule_arn: str, metric: str) -> None:
    """One more of `metric` for the rule (arn:aws:events:REGION:ACCOUNT:rule/[BUS/]NAME)."""
    sink = ports.metrics
    if sink is None:
        return
    region = rule_arn.split(":")[3]
    path = rule_arn.split(":rule/", 1)[-1].split("/")
    bus, name = (path[0], path[1]) if len(path) == 2 else ("default", path[0])
    sink.tally(region, NAMESPACE, metric, (("RuleName", name),))
    sink.tally(region, NAMESPACE, metric, (("EventBusName", bus), ("RuleName", name)))


def make_dispatcher(store: EventsStore, clock: Clock, ports: Ports, account: str, put_on_bus: BusPutter) -> Dispatcher:
    async def attempt(row: DeliveryRow) -> None:
        rule_name = _rule_name(row.source_arn)
        ctx = targets.Context(ports, account, row.source_arn, rule_name, put_on_bus)
        body = targets.payload(row.target, row.event, row.source_arn, rule_name, iso8601(row.first_at))
        await targets.deliver(ctx, row.target, row.event, body)

    async def dead_letter(row: DeliveryRow, failure: DeliveryFailed, exhausted: str | None) -> bool:
        queue = (row.target.get("DeadLetterConfig") or {}).get("Arn")
        if not queue:
            return False
        sent = await targets.to_dead_letter_queue(ports, queue, row.source_arn, str(row.target["Arn"]), row.event,
                                                  failure, row.attempts, exhausted, account)
        _count(ports, row.source_arn, "InvocationsSentToDlq" if sent else "InvocationsFailedToBeSentToDlq")
        return sent

    def outcome(row: DeliveryRow, how: str) -> None:
        _count(ports, row.source_arn, "Invocations")
        if how != "delivered":
            _count(ports, row.source_arn, "FailedInvocations")

    return Dispatcher(store, clock, attempt, dead_letter, outcome)
