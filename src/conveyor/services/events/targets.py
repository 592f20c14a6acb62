"""A rule's targets: which ones PutTargets accepts, and handing one event to one target.

Conveyor delivers to functions (Lambda), queues (SQS, FIFO ones with SqsParameters.MessageGroupId), topics
(SNS) and other event buses, through the ports those services offer. As on AWS, each delivery is judged by
the target's own resource policy, with the rule's ARN as `aws:SourceArn`:
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html
- a function needs a permission for `events.amazonaws.com` (`aws lambda add-permission`),
- a queue a policy statement letting `events.amazonaws.com` `sqs:SendMessage`,
- a topic one letting it `sns:Publish`,
- another bus, in this account, a `RoleArn` that EventBridge may assume (eb-bus-to-bus.md),
- a log group (arn:aws:logs:REGION:ACCOUNT:log-group:NAME) a CloudWatch Logs resource policy letting
  `events.amazonaws.com` (or `delivery.logs.amazonaws.com`, as the page's example names both)
  logs:CreateLogStream and logs:PutLogEvents on its streams (#eb-cloudwatchlogs-permissions).
Failures carry the error codes EventBridge writes on dead-letter messages (ERROR_CODE); missing
permissions and missing targets are not retried (eb-rule-dlq.md).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from conveyor import resource_policy
from conveyor.ports import Ports
from conveyor.services.events import errors, transform
from conveyor.services.retrying import DeliveryFailed
from conveyor.wire import ServiceError

EVENTS_PRINCIPAL = "events.amazonaws.com"
MAX_TARGETS = 5  # per rule: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html
SERVED_KINDS = ("lambda", "sqs", "sns", "events", "logs")
# The principals a log group's resource policy may name for EventBridge's writes (eb-use-resource-based.md).
LOG_PRINCIPALS = (EVENTS_PRINCIPAL, "delivery.logs.amazonaws.com")
# Target settings for services Conveyor does not deliver to: refused, not ignored.
UNSERVED_PARAMETERS = ("KinesisParameters", "RunCommandParameters", "EcsParameters", "BatchParameters",
                       "HttpParameters", "RedshiftDataParameters", "SageMakerPipelineParameters",
                       "AppSyncParameters")


def kind_of(arn: str) -> str | None:
    """The service a target ARN names, when it is a well-formed ARN."""
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn" or not parts[2] or not parts[5]:
        return None
    return parts[2]


def check_target(target: Mapping[str, Any], is_fifo: Callable[[str], bool | None]) -> None:
    """Refuse a target PutTargets must refuse as a whole request (ValidationException)."""
    arn = target["Arn"]
    kind = kind_of(arn)
    if kind is None:
        raise errors.validation("Provided Arn is not in correct format.")
    if kind not in SERVED_KINDS:
        raise errors.not_served(f"Targets of the service '{kind}' ({arn})")
    for name in UNSERVED_PARAMETERS:
        if target.get(name) is not None:
            raise errors.not_served(f"{name} (target {target['Id']})")
    given = [name for name in ("Input", "InputPath", "InputTransformer") if target.get(name) is not None]
    if len(given) > 1:
        raise errors.validation(f"Only one of Input, InputPath, or InputTransformer must be provided for target "
                                f"{target['Id']}.")
    if target.get("Input") is not None:
        try:
            json.loads(target["Input"])
        except ValueError:
            raise errors.validation(f"Input for target {target['Id']} must be valid JSON.")
    if target.get("InputPath") is not None:
        _check_path(target["InputPath"], target["Id"], "InputPath")
    transformer = target.get("InputTransformer")
    if transformer is not None:
        for name, path in (transformer.get("InputPathsMap") or {}).items():
            if not transform.valid_variable_name(name):
                raise errors.validation(f"InputTransformer.InputPathsMap for target {target['Id']} has an invalid "
                                        f"key: {name}")
            _check_path(path, target["Id"], f"InputPathsMap[{name}]")
    if kind == "sqs" and is_fifo(arn) and not (target.get("SqsParameters") or {}).get("MessageGroupId"):
        raise errors.validation(f"Parameter(s) SqsParameters must be specified for target: {target['Id']}.")
    if kind == "logs" and arn.split(":")[5] != "log-group":
        raise errors.validation("Provided Arn is not in correct format.")
    if kind == "events" and not target.get("RoleArn"):
        raise errors.validation(f"RoleArn is required for target {arn}.")
    dead_letter = (target.get("DeadLetterConfig") or {}).get("Arn")
    if dead_letter is not None and kind_of(dead_letter) != "sqs":
        raise errors.validation("Provided Arn is not in correct format.")


def _check_path(path: str, target_id: str, what: str) -> None:
    try:
        transform.check_path(path)
    except transform.PathError:
        raise errors.validation(f"{what} for target {target_id} is not a valid JSON path: {path}")


@dataclass(frozen=True)
class Context:
    """What a delivery needs besides the event: who sends it (the rule) and where the ports are."""

    ports: Ports
    account: str
    rule_arn: str
    rule_name: str
    # Puts an event on another bus of this account (bus-to-bus targets); raises DeliveryFailed.
    put_on_bus: Callable[[str, dict[str, Any]], Awaitable[None]]


def payload(target: Mapping[str, Any], event: Mapping[str, Any], rule_arn: str, rule_name: str,
            ingestion_time: str) -> str:
    """The text the target receives."""
    if target.get("Input") is not None:
        return str(target["Input"])
    if target.get("InputPath") is not None:
        return transform.input_path(event, target["InputPath"])
    transformer = target.get("InputTransformer")
    if transformer is not None:
        return transform.render(transformer["InputTemplate"], transformer.get("InputPathsMap") or {}, event,
                                rule_arn, rule_name, ingestion_time)
    return json.dumps(event, separators=(",", ":"))


def _allowed(ctx: Context, holder_policy: str | None, action: str, arn: str) -> bool:
    request = resource_policy.Request(action=action, resource=arn, service=EVENTS_PRINCIPAL,
                                      context={"aws:SourceArn": ctx.rule_arn, "aws:SourceAccount": ctx.account})
    return resource_policy.allows(resource_policy.parse(holder_policy), request)


def _not_found(arn: str) -> DeliveryFailed:
    return DeliveryFailed("NO_RESOURCE", f"The target {arn} does not exist.", retryable=False)


def _denied(arn: str) -> DeliveryFailed:
    return DeliveryFailed("NO_PERMISSIONS", f"EventBridge does not have permission to deliver to {arn}: its "
                          "resource policy does not allow events.amazonaws.com for this rule.", retryable=False)


async def deliver(ctx: Context, target: Mapping[str, Any], event: dict[str, Any], body: str) -> None:
    """Hand `body` (the event, or what the target's input settings make of it) to the target."""
    arn = str(target["Arn"])
    kind = kind_of(arn)
    try:
        if kind == "lambda":
            await _to_function(ctx, arn, body)
        elif kind == "sqs":
            await _to_queue(ctx, arn, target, event, body)
        elif kind == "sns":
            await _to_topic(ctx, arn, body)
        elif kind == "events":
            await _to_bus(ctx, arn, target, event)
        elif kind == "logs":
            await _to_log_group(ctx, arn, target, event, body)
        else:
            raise _not_found(arn)
    except DeliveryFailed:
        raise
    except ServiceError as exc:
        raise DeliveryFailed("SDK_CLIENT_ERROR" if exc.status < 500 else "INTERNAL_ERROR",
                             f"{exc.code}: {exc.message}", retryable=True)
    except Exception as exc:  # a failed write (a full disk...): retried as AWS retries a throttled target
        raise DeliveryFailed("INTERNAL_ERROR", str(exc) or type(exc).__name__, retryable=True)


async def _to_function(ctx: Context, arn: str, body: str) -> None:
    functions = ctx.ports.functions
    if functions is None or not functions.resource_exists(arn):
        raise _not_found(arn)
    if not functions.invoke_allowed(arn, EVENTS_PRINCIPAL, ctx.rule_arn):
        raise _denied(arn)
    try:
        event = json.loads(body)
    except ValueError:
        raise DeliveryFailed("INVALID_JSON", "A function's input must be JSON.", retryable=False)
    await functions.invoke_event(arn, event)  # asynchronous, as EventBridge invokes functions


async def _to_queue(ctx: Context, arn: str, target: Mapping[str, Any], event: Mapping[str, Any], body: str) -> None:
    queues = ctx.ports.queues
    if queues is None or not queues.resource_exists(arn):
        raise _not_found(arn)
    if not _allowed(ctx, queues.resource_policy(arn), "sqs:SendMessage", arn):
        raise _denied(arn)
    if queues.is_fifo(arn):
        # The event id deduplicates repeated deliveries of one event.
        # https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-targets.html (Amazon SQS FIFO queues)
        group = (target.get("SqsParameters") or {}).get("MessageGroupId")
        await queues.send(arn, body, group_id=group, dedup_id=str(event.get("id")))
    else:
        await queues.send(arn, body)


async def _to_topic(ctx: Context, arn: str, body: str) -> None:
    topics = ctx.ports.topics
    if topics is None or not topics.resource_exists(arn):
        raise _not_found(arn)
    if not _allowed(ctx, topics.resource_policy(arn), "sns:Publish", arn):
        raise _denied(arn)
    await topics.publish_internal(arn, body)


async def _to_log_group(ctx: Context, arn: str, target: Mapping[str, Any], event: Mapping[str, Any],
                        body: str) -> None:
    """EventBridge creates a log stream named by the event's id and writes the event there as one log
    event (eb-use-resource-based.md#eb-cloudwatchlogs-permissions)."""
    groups = ctx.ports.log_groups
    if groups is None or not groups.resource_exists(arn):
        raise _not_found(arn)
    stream = str(event.get("id"))
    context = {"aws:SourceArn": ctx.rule_arn, "aws:SourceAccount": ctx.account}
    if not any(groups.delivery_allowed(arn, stream, principal, context) for principal in LOG_PRINCIPALS):
        raise _denied(arn)
    await groups.deliver_events(arn, stream, [log_event(target, event, body)])


def log_event(target: Mapping[str, Any], event: Mapping[str, Any], body: str) -> tuple[int, str]:
    """(timestamp ms, message) of the log event: the event's time and the target's input, unless an
    InputTransformer makes the form log group targets take, {"timestamp": ..., "message": ...} (the
    form the CDK's LogGroupTargetInput writes:
    https://docs.aws.amazon.com/cdk/api/v2/docs/aws-cdk-lib.aws_events_targets.LogGroupTargetInput.html)."""
    timestamp = _millis(event.get("time"))
    if target.get("InputTransformer") is not None:
        try:
            shaped = json.loads(body)
        except ValueError:
            shaped = None
        if isinstance(shaped, dict) and set(shaped) == {"timestamp", "message"}:
            message = shaped["message"]
            text = message if isinstance(message, str) else json.dumps(message, separators=(",", ":"))
            return _millis(shaped["timestamp"], timestamp), text
    return timestamp, body


def _millis(value: Any, default: int | None = None) -> int:
    """An event time (ISO 8601, as events carry it, or milliseconds) in milliseconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        try:
            return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
        except ValueError:
            pass
    if default is not None:
        return default
    raise DeliveryFailed("INVALID_PARAMETER", f"The event's time {value!r} is not a timestamp.", retryable=False)


async def _to_bus(ctx: Context, arn: str, target: Mapping[str, Any], event: dict[str, Any]) -> None:
    sessions = ctx.ports.role_sessions
    role = str(target.get("RoleArn") or "")
    if sessions is not None and not sessions.assumable_by(role, EVENTS_PRINCIPAL):
        raise DeliveryFailed("FAILED_TO_ASSUME_ROLE", f"EventBridge could not assume the role {role}.",
                             retryable=False)
    await ctx.put_on_bus(arn, event)


async def to_dead_letter_queue(ports: Ports, queue_arn: str, rule_arn: str, target_arn: str, event: dict[str, Any],
                               failure: DeliveryFailed, retries: int, exhausted: str | None, account: str) -> bool:
    """Send a failed event to the target's dead-letter queue (a standard queue whose policy lets EventBridge
    send), with the attributes AWS adds; False when that failed too."""
    queues = ports.queues
    if queues is None or not queues.resource_exists(queue_arn) or queues.is_fifo(queue_arn):
        return False
    request = resource_policy.Request(action="sqs:SendMessage", resource=queue_arn, service=EVENTS_PRINCIPAL,
                                      context={"aws:SourceArn": rule_arn, "aws:SourceAccount": account})
    if not resource_policy.allows(resource_policy.parse(queues.resource_policy(queue_arn)), request):
        return False
    attributes: dict[str, Any] = {
        "RULE_ARN": {"DataType": "String", "StringValue": rule_arn},
        "TARGET_ARN": {"DataType": "String", "StringValue": target_arn},
        "ERROR_CODE": {"DataType": "String", "StringValue": failure.code},
        "ERROR_MESSAGE": {"DataType": "String", "StringValue": failure.message[:1000]},
        "RETRY_ATTEMPTS": {"DataType": "Number", "StringValue": str(retries)},
    }
    if exhausted:
        attributes["EXHAUSTED_RETRY_CONDITION"] = {"DataType": "String", "StringValue": exhausted}
    try:
        await queues.send(queue_arn, json.dumps(event, separators=(",", ":")), message_attributes=attributes)
    except Exception:
        return False
    return True
