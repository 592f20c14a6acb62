"""What each SQS operation asks IAM for (`--iam report|enforce`).

https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsqs.html and
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-api-permissions-reference.html
- Every queue operation acts on the queue's ARN (`arn:aws:sqs:REGION:ACCOUNT:NAME`), the one its QueueUrl
  names, whether or not the queue exists (a caller that may not see it learns nothing more).
- The batch operations have no actions of their own: SendMessageBatch is sqs:SendMessage,
  DeleteMessageBatch sqs:DeleteMessage, ChangeMessageVisibilityBatch sqs:ChangeMessageVisibility.
- CreateQueue with tags also needs sqs:TagQueue; ListQueues acts on no queue ("*").
- StartMessageMoveTask reads and deletes from the source queue and sends to the destination: it needs
  sqs:StartMessageMoveTask, sqs:ReceiveMessage, sqs:DeleteMessage and sqs:GetQueueAttributes on the
  source, and sqs:SendMessage on the destination
  (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_StartMessageMoveTask.html).
- A queue's tags are its aws:ResourceTag/KEY keys.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from conveyor.authz import Need
from conveyor.services.sqs import urls
from conveyor.wire import RequestContext, ServiceError

BATCH_ACTIONS = {
    "SendMessageBatch": "sqs:SendMessage",
    "DeleteMessageBatch": "sqs:DeleteMessage",
    "ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
}

# What another account may never do to a queue, whatever the queue's policy grants it: "Cross-account
# permissions don't apply to the following actions"
# (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-limitations-of-custom-policies.html).
# ListQueues, on that list too, is answered with the caller's own queues instead.
OWNER_ONLY = frozenset({
    "AddPermission", "CancelMessageMoveTask", "CreateQueue", "DeleteQueue", "ListMessageMoveTasks",
    "ListQueueTags", "RemovePermission", "SetQueueAttributes", "StartMessageMoveTask", "TagQueue", "UntagQueue",
})

# A queue's tags by ARN, when it exists.
TagsOf = Callable[[str], Mapping[str, str] | None]


def caller_account(ctx: RequestContext) -> str:
    """The account whose queues a name means when no owner is given (GetQueueUrl, ListQueues): the caller's
    own, which for another account's caller (conveyor.wire.caller.another_account) holds none here."""
    return ctx.principal.account_id if ctx.principal is not None else ctx.account_id


def queue_arn(ctx: RequestContext, url: str) -> str | None:
    """The ARN a QueueUrl (or ARN) names; None when it names none (the operation answers InvalidAddress)."""
    if url.startswith("arn:"):
        return url
    return _arn_of(url, ctx.region, ctx.account_id)


@lru_cache(maxsize=4096)
def _arn_of(url: str, region: str, account: str) -> str | None:
    """(Cached: clients send the same few URLs over and over, and parsing one costs more than judging it.)"""
    try:
        address = urls.parse(url)
    except ServiceError:
        return None
    return f"arn:aws:sqs:{address.region or region}:{address.account or account}:{address.name}"


def needs(ctx: RequestContext, operation: str, params: Mapping[str, Any], tags_of: TagsOf) -> list[Need]:
    action = BATCH_ACTIONS.get(operation, f"sqs:{operation}")
    if operation == "ListQueues":
        return [Need(action)]
    if operation in ("CreateQueue", "GetQueueUrl"):
        account = params.get("QueueOwnerAWSAccountId") or (
            caller_account(ctx) if operation == "GetQueueUrl" else ctx.account_id)
        arn = f"arn:aws:sqs:{ctx.region}:{account}:{params.get('QueueName', '')}"
        out = [Need(action, arn)]
        if operation == "CreateQueue" and params.get("tags"):
            out.append(Need("sqs:TagQueue", arn))
        return out
    if operation in ("StartMessageMoveTask", "ListMessageMoveTasks"):
        source = str(params.get("SourceArn") or "*")
        out = [Need(action, source, _tags(source, tags_of))]
        if operation == "StartMessageMoveTask":
            out += [Need(a, source) for a in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")]
            destination = params.get("DestinationArn")
            if isinstance(destination, str):
                out.append(Need("sqs:SendMessage", destination))
        return out
    url = params.get("QueueUrl")
    queue = queue_arn(ctx, url) if isinstance(url, str) else None
    return [Need(action, queue or "*", _tags(queue, tags_of) if queue else None)]


def _tags(arn: str, tags_of: TagsOf) -> dict[str, str] | None:
    tags = tags_of(arn)
    return {f"aws:ResourceTag/{k}": v for k, v in tags.items()} if tags else None
