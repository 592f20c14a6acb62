"""Whether S3 may deliver a bucket's events to a queue, topic or function.

PutBucketNotificationConfiguration checks every destination before it stores a configuration, whatever
the server's auth mode: this is configuration validation, not identity enforcement. A destination must
exist and its resource policy must let the S3 service principal send (`sqs:SendMessage`), publish
(`sns:Publish`) or invoke (`lambda:InvokeFunction`) for this bucket, with the context S3 itself gives:
`aws:SourceArn` (the bucket's ARN) and `aws:SourceAccount` (the bucket owner's account).
https://docs.aws.amazon.com/AmazonS3/latest/userguide/grant-destinations-permissions-to-s3.html

Each refused destination is named in the error as a numbered ArgumentName/ArgumentValue pair, with
the reason S3 gives for it.
"""

from __future__ import annotations

import json

from conveyor import resource_policy
from conveyor.ports import Ports
from conveyor.wire import ServiceError

S3_PRINCIPAL = "s3.amazonaws.com"
_ACTIONS = {"sqs": "sqs:SendMessage", "sns": "sns:Publish"}
_NOUNS = {"sqs": "queue", "sns": "topic"}


def _well_formed(arn: str, kind: str) -> bool:
    parts = arn.split(":")
    return len(parts) >= 6 and parts[0] == "arn" and parts[2] == kind


def exists(ports: Ports, kind: str, arn: str) -> bool:
    """Whether the destination is still there (events for a deleted queue or topic are dropped)."""
    destination = ports.destination(kind)
    return destination is not None and _well_formed(arn, kind) and destination.resource_exists(arn)


def refusal(ports: Ports, kind: str, arn: str, bucket: str, account: str) -> str | None:
    """Why S3 may not deliver to `arn` (AWS's wording), or None when it may."""
    if kind == "lambda":
        functions = ports.functions
        if functions is None or not _well_formed(arn, kind):
            return "The destination Lambda function does not exist"
        if not functions.invoke_allowed(arn, S3_PRINCIPAL, _bucket_arn(bucket)):
            return f"Not authorized to invoke function [{arn}]"
        return None
    noun = _NOUNS[kind]
    holder = ports.policy_holder(kind)
    if holder is None or not _well_formed(arn, kind) or not holder.resource_exists(arn):
        return f"The destination {noun} does not exist"
    request = resource_policy.Request(
        action=_ACTIONS[kind], resource=arn, service=S3_PRINCIPAL,
        context={"aws:SourceArn": _bucket_arn(bucket), "aws:SourceAccount": account})
    if not resource_policy.allows(resource_policy.parse(holder.resource_policy(arn)), request):
        return f"Permissions on the destination {noun} do not allow S3 to publish notifications from this bucket"
    return None


def check(ports: Ports, destinations: list[tuple[str, str]], bucket: str, account: str,
          region: str | None = None) -> None:
    """Refuse the configuration if any (kind, arn) destination is not a well-formed ARN of the bucket's region,
    or cannot be delivered to. https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-event-types-and-destinations.html"""
    for kind, arn in destinations:
        parts = arn.split(":")
        if not _well_formed(arn, kind) or not parts[3] or not parts[4] or not parts[5]:
            raise ServiceError("InvalidArgument", "The ARN is not well formed", 400,
                               extra={"ArgumentName": arn, "ArgumentValue": arn})
        if region is not None and parts[3] != region:
            raise ServiceError("InvalidArgument", "The notification destination service region is not valid for "
                               "the bucket location constraint", 400,
                               extra={"ArgumentName": arn, "ArgumentValue": arn})
    refused: list[tuple[str, str]] = []
    for kind, arn in destinations:
        reason = refusal(ports, kind, arn, bucket, account)
        if reason is not None and (arn, reason) not in refused:
            refused.append((arn, reason))
    if not refused:
        return
    extra: dict[str, str] = {}
    for number, (arn, reason) in enumerate(refused, start=1):
        extra[f"ArgumentName{number}"] = arn
        extra[f"ArgumentValue{number}"] = reason
    raise ServiceError("InvalidArgument", "Unable to validate the following destination configurations", 400,
                       extra=extra)


def event_bucket(body: str) -> str:
    """The bucket an event document (a record, or s3:TestEvent's) is about."""
    try:
        event = json.loads(body)
        records = event.get("Records") or [{}]
        return str(records[0].get("s3", {}).get("bucket", {}).get("name") or event.get("Bucket") or "")
    except (ValueError, AttributeError, IndexError):
        return ""


def _bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"
