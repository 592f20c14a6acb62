"""An event source mapping reads its queue or stream as the function's execution role (`--iam report|enforce`).

https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html ("Execution role permissions"): Lambda needs
sqs:ReceiveMessage, sqs:DeleteMessage and sqs:GetQueueAttributes on the queue to poll it, and uses the
function's execution role to do so; https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html: the
role needs kinesis:GetRecords, kinesis:GetShardIterator, kinesis:DescribeStream and kinesis:ListShards on
the stream (AWSLambdaKinesisExecutionRole grants them, with ListStreams and SubscribeToShard).
https://docs.aws.amazon.com/lambda/latest/dg/permissions-managed-policies.html: "When you use an event
source mapping to invoke your function, Lambda uses the execution role to read event data."

CreateEventSourceMapping (and UpdateEventSourceMapping) checks the role first and refuses a role that
lacks them with InvalidParameterValueException, in the words AWS answers (as the AWS CLI prints them):
"The function execution role does not have permissions to call ReceiveMessage on SQS" for a queue,
"Cannot access stream ARN. Please ensure the role can perform the GetRecords, GetShardIterator,
DescribeStream, ListShards, and ListStreams Actions on your stream in IAM." for a stream. A permission
taken away later stops the pollers' calls: nothing is read or deleted, the mapping says why in its
LastProcessingResult ("PROBLEM: " and the denial), and the pollers try again every RETRY seconds of the
server's clock, as Lambda keeps retrying a source it cannot read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from conveyor.clock import Clock
from conveyor.ports import Ports, Refusal
from conveyor.services.lambda_.functions import invalid
from conveyor.services.lambda_.registry import Registry
from conveyor.wire import ServiceError

SQS_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
KINESIS_ACTIONS = ("kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:DescribeStream", "kinesis:ListShards")
# https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html ("Execution role permissions").
DYNAMODB_ACTIONS = ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                    "dynamodb:ListStreams")
RETRY = 10.0  # seconds of the server's clock between a refused poll and the next try


def execution_role(registry: Registry, function: str, qualifier: str | None) -> str | None:
    """The role the mapping's function (at its qualifier) runs as, or None when it is gone."""
    fn = registry.functions.get(function)
    if fn is None:
        return None
    try:
        role = fn.resolve(qualifier).get("Role")
    except ServiceError:
        return None
    return role if isinstance(role, str) else None


def refusal(ports: Ports, registry: Registry, function: str, qualifier: str | None, source_arn: str,
            actions: Sequence[str], call: str, *, record: bool = True) -> Refusal | None:
    """The first of `actions` on the source the function's execution role may not make (enforcing only)."""
    access = ports.access
    role = execution_role(registry, function, qualifier)
    if access is None or role is None:
        return None
    # The session is named after the function, as the function's own environments' sessions are.
    return access.role_refusal(role, function, [(action, source_arn) for action in actions], call, record=record)


def create_refused(source_arn: str, refused: Refusal) -> ServiceError:
    """CreateEventSourceMapping's answer to an execution role that cannot read the source."""
    if source_arn.split(":")[2:3] == ["dynamodb"]:
        return invalid(f"Cannot access stream {source_arn}. Please ensure the role can perform the GetRecords, "
                       "GetShardIterator, DescribeStream, and ListStreams Actions on your stream in IAM.")
    if source_arn.split(":")[2:3] == ["kinesis"]:
        return invalid(f"Cannot access stream {source_arn}. Please ensure the role can perform the GetRecords, "
                       "GetShardIterator, DescribeStream, ListShards, and ListStreams Actions on your stream in IAM.")
    action = refused.action.partition(":")[2]
    return invalid(f"The function execution role does not have permissions to call {action} on SQS")


def problem(refused: Refusal) -> str:
    """The mapping's LastProcessingResult while its role may not read the source."""
    return f"PROBLEM: {refused.message}"


async def pause(clock: Clock, seconds: float = RETRY) -> None:
    """Wait `seconds` of the server's clock (a manual clock moves only when told)."""
    due = asyncio.Event()
    timer = clock.call_at(clock.now() + seconds, due.set)
    try:
        await due.wait()
    finally:
        timer.cancel()
