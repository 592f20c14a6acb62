"""Invoking a schedule's target, as its execution role, through the ports of the services behind it.

Scheduler acts with the schedule's RoleArn, a role that must trust `scheduler.amazonaws.com`
(https://docs.aws.amazon.com/scheduler/latest/UserGuide/setting-up.html#setting-up-execution-role);
Conveyor does not check the role's own permission policies (not even under `--iam enforce`), so a role
that exists and trusts Scheduler may invoke any target. The target receives Input (`{}` without one),
its context attributes filled in:
https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-context-attributes.html
A missing target or a role Scheduler cannot assume is not retried; other failures are, per the target's
RetryPolicy (conveyor.services.retrying), and end in its dead-letter queue.
"""

from __future__ import annotations

import json
from typing import Any

from conveyor.ports import Ports
from conveyor.services.retrying import DeliveryFailed, DeliveryRow
from conveyor.services.scheduler.schedules import target_kind
from conveyor.wire import ServiceError

SCHEDULER_PRINCIPAL = "scheduler.amazonaws.com"


def render_input(text: str | None, event: dict[str, Any], attempt: int) -> str:
    body = text if text is not None else "{}"
    for name, value in (("schedule-arn", event["schedule-arn"]), ("scheduled-time", event["scheduled-time"]),
                        ("execution-id", event["execution-id"]), ("attempt-number", str(attempt))):
        body = body.replace(f"<aws.scheduler.{name}>", value)
    return body


def _missing(arn: str) -> DeliveryFailed:
    return DeliveryFailed("ResourceNotFoundException", f"The target {arn} does not exist.", retryable=False)


async def invoke(ports: Ports, row: DeliveryRow) -> None:
    target = row.target
    arn = str(target["Arn"])
    sessions = ports.role_sessions
    if sessions is not None and not sessions.assumable_by(str(target.get("RoleArn")), SCHEDULER_PRINCIPAL):
        raise DeliveryFailed("AccessDeniedException", f"Scheduler could not assume the role {target.get('RoleArn')}.",
                             retryable=False)
    body = render_input(target.get("Input"), row.event, row.attempts + 1)
    kind = target_kind(arn)
    try:
        if kind == "lambda":
            functions = ports.functions
            if functions is None or not functions.resource_exists(arn):
                raise _missing(arn)
            try:
                payload: Any = json.loads(body)
            except ValueError:
                payload = body
            await functions.invoke_event(arn, payload)
        elif kind == "sqs":
            queues = ports.queues
            if queues is None or not queues.resource_exists(arn):
                raise _missing(arn)
            if queues.is_fifo(arn):
                group = (target.get("SqsParameters") or {}).get("MessageGroupId")
                await queues.send(arn, body, group_id=group, dedup_id=str(row.event["execution-id"]))
            else:
                await queues.send(arn, body)
        elif kind == "sns":
            topics = ports.topics
            if topics is None or not topics.resource_exists(arn):
                raise _missing(arn)
            await topics.publish_internal(arn, body)
        elif kind == "events":
            buses = ports.events
            if buses is None or not buses.resource_exists(arn):
                raise _missing(arn)
            parameters = target.get("EventBridgeParameters") or {}
            await buses.put_event(arn, str(parameters.get("Source")), str(parameters.get("DetailType")), body,
                                  [str(row.event["schedule-arn"])])
        else:
            raise _missing(arn)
    except DeliveryFailed:
        raise
    except ServiceError as exc:
        raise DeliveryFailed(exc.code, exc.message, retryable=True)
    except Exception as exc:  # a failed write (a full disk...)
        raise DeliveryFailed("InternalServerException", str(exc) or type(exc).__name__, retryable=True)


async def to_dead_letter_queue(ports: Ports, row: DeliveryRow, failure: DeliveryFailed, exhausted: str | None) -> bool:
    """The invocation's input to the target's dead-letter queue, with the attributes Scheduler adds.
    https://docs.aws.amazon.com/scheduler/latest/UserGuide/configuring-schedule-dlq.html"""
    queue = (row.target.get("DeadLetterConfig") or {}).get("Arn")
    queues = ports.queues
    if not queue or queues is None or not queues.resource_exists(queue) or queues.is_fifo(queue):
        return False
    attributes: dict[str, Any] = {
        "ERROR_CODE": {"DataType": "String", "StringValue": failure.code},
        "ERROR_MESSAGE": {"DataType": "String", "StringValue": failure.message[:1000]},
        "RETRY_ATTEMPTS": {"DataType": "Number", "StringValue": str(row.attempts)},
        "TARGET_ARN": {"DataType": "String", "StringValue": str(row.target["Arn"])},
        "SCHEDULE_ARN": {"DataType": "String", "StringValue": str(row.event["schedule-arn"])},
        "EXECUTION_ID": {"DataType": "String", "StringValue": str(row.event["execution-id"])},
    }
    if exhausted:
        attributes["EXHAUSTED_RETRY_CONDITION"] = {"DataType": "String", "StringValue": exhausted}
    try:
        await queues.send(queue, render_input(row.target.get("Input"), row.event, row.attempts + 1),
                          message_attributes=attributes)
    except Exception:
        return False
    return True
