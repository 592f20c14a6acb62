"""Queue attributes: names, AWS ranges and defaults, and their validation."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from conveyor import jsondoc
from conveyor.services.sqs.errors import invalid_attr_value, sqs_error

if TYPE_CHECKING:
    from mypy_boto3_sqs.literals import QueueAttributeNameType

    # What CreateQueue and SetQueueAttributes give: names the model's enum allows (the gateway checks
    # them), or plain strings from callers inside Conveyor.
    GivenQueueAttributes = Mapping[QueueAttributeNameType, str] | Mapping[str, str]

# name -> (min, max, default) for the integer attributes
INT_ATTRS: dict[str, tuple[int, int, int]] = {
    "DelaySeconds": (0, 900, 0),
    "MaximumMessageSize": (1024, 1048576, 1048576),
    "MessageRetentionPeriod": (60, 1209600, 345600),
    "ReceiveMessageWaitTimeSeconds": (0, 20, 0),
    "VisibilityTimeout": (0, 43200, 30),
    "KmsDataKeyReusePeriodSeconds": (60, 86400, 300),
}
BOOL_ATTRS = {"FifoQueue", "ContentBasedDeduplication", "SqsManagedSseEnabled"}
FIFO_ONLY = {"ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit"}
STRING_ATTRS = {"Policy", "KmsMasterKeyId", "RedrivePolicy", "RedriveAllowPolicy", "DeduplicationScope",
                "FifoThroughputLimit"}
WRITABLE = set(INT_ATTRS) | BOOL_ATTRS | STRING_ATTRS
READ_ONLY = {"QueueArn", "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
             "ApproximateNumberOfMessagesDelayed", "CreatedTimestamp", "LastModifiedTimestamp"}
ALL_NAMES = WRITABLE | READ_ONLY
ARN_RE = re.compile(r"arn:aws[\w-]*:sqs:([\w-]+):(\d{12}):([\w-]{1,80}(?:\.fifo)?)")


def defaults(fifo: bool) -> dict[str, str]:
    out = {name: str(default) for name, (_, _, default) in INT_ATTRS.items() if name != "KmsDataKeyReusePeriodSeconds"}
    out["SqsManagedSseEnabled"] = "true"
    if fifo:
        out.update(FifoQueue="true", ContentBasedDeduplication="false", DeduplicationScope="queue",
                   FifoThroughputLimit="perQueue")
    return out


def settle_encryption(attrs: dict[str, str], given: Mapping[str, str]) -> None:
    """One kind of server-side encryption at a time: a KMS key turns SQS-managed SSE off and reports the
    data key reuse period (300 s unless set); asking for both is refused with AWS's message (as
    InvalidAttributeName, as AWS answers it).
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-server-side-encryption.html"""
    if attrs.get("KmsMasterKeyId"):
        if given.get("SqsManagedSseEnabled") == "true":
            raise sqs_error("InvalidAttributeName", "You can use one type of server-side encryption (SSE) at one "
                            "time. You can either enable KMS SSE or SQS SSE.")
        attrs["SqsManagedSseEnabled"] = "false"
        attrs.setdefault("KmsDataKeyReusePeriodSeconds", str(INT_ATTRS["KmsDataKeyReusePeriodSeconds"][2]))
    elif "KmsDataKeyReusePeriodSeconds" not in given:
        attrs.pop("KmsDataKeyReusePeriodSeconds", None)


def _bool(name: str, value: str) -> str:
    low = value.lower()
    if low not in ("true", "false"):
        raise invalid_attr_value(name)
    return low


def normalize(attrs: GivenQueueAttributes, fifo: bool, creating: bool) -> dict[str, str]:
    """Validate attributes given to CreateQueue/SetQueueAttributes and return them normalized."""
    out: dict[str, str] = {}
    for name, value in attrs.items():
        if name not in WRITABLE:
            raise sqs_error("InvalidAttributeName", f"Unknown Attribute {name}.")
        value = value.strip() if name in INT_ATTRS else value
        if name in INT_ATTRS:
            low, high, _ = INT_ATTRS[name]
            if not re.fullmatch(r"-?\d+", value) or not low <= int(value) <= high:
                raise invalid_attr_value(name)
            out[name] = str(int(value))
        elif name in BOOL_ATTRS:
            out[name] = _bool(name, value)
        else:
            out[name] = value
    if "FifoQueue" in out:
        if not creating:
            raise invalid_attr_value("FifoQueue", "Modifying queue type is not supported.")
        if out["FifoQueue"] == "false" and fifo:
            raise invalid_attr_value("FifoQueue")
    if not fifo:
        # A standard queue knows no FIFO attributes, FifoQueue=false included: the API reference lists
        # "false" as a value, yet AWS answers it "Unknown Attribute FifoQueue." (CreateQueue through the
        # SDKs, aws/aws-sdk-php#1331 and aws/aws-cli#2549, and through CloudFormation, aws/aws-cdk#31922).
        # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html
        for name in sorted(FIFO_ONLY | {"FifoQueue"}):
            if name in out:
                raise sqs_error("InvalidAttributeName", f"Unknown Attribute {name}.")
    if out.get("DeduplicationScope", "queue") not in ("queue", "messageGroup"):
        raise invalid_attr_value("DeduplicationScope")
    if out.get("FifoThroughputLimit", "perQueue") not in ("perQueue", "perMessageGroupId"):
        raise invalid_attr_value("FifoThroughputLimit")
    if out.get("RedrivePolicy"):
        out["RedrivePolicy"] = json.dumps(parse_redrive_policy(out["RedrivePolicy"]), separators=(",", ":"))
    if out.get("RedriveAllowPolicy"):
        out["RedriveAllowPolicy"] = json.dumps(parse_redrive_allow(out["RedriveAllowPolicy"]),
                                               separators=(",", ":"))
    if out.get("Policy"):
        try:
            jsondoc.loads(out["Policy"])
        except ValueError:
            raise invalid_attr_value("Policy", "Policy is not valid JSON.")
    return out


def parse_redrive_policy(text: str) -> dict[str, Any]:
    try:
        data = jsondoc.loads(text)
    except ValueError:
        raise invalid_attr_value("RedrivePolicy", "Redrive policy is not a valid JSON map.")
    if not isinstance(data, dict):
        raise invalid_attr_value("RedrivePolicy", "Redrive policy is not a valid JSON map.")
    target = data.get("deadLetterTargetArn")
    given: Any = data.get("maxReceiveCount")  # any JSON value; int() takes 5, "5" and 5.0 alike
    if not isinstance(target, str) or not ARN_RE.fullmatch(target):
        raise invalid_attr_value("RedrivePolicy", "Dead-letter target ARN is missing or invalid.")
    try:
        count = int(given)
    except (TypeError, ValueError):
        raise invalid_attr_value("RedrivePolicy", "Redrive policy maxReceiveCount is missing or invalid.")
    if not 1 <= count <= 1000:
        raise invalid_attr_value("RedrivePolicy", "Value of maxReceiveCount must be between 1 and 1000.")
    return {"deadLetterTargetArn": target, "maxReceiveCount": count}


def parse_redrive_allow(text: str) -> dict[str, Any]:
    try:
        data = jsondoc.loads(text)
    except ValueError:
        raise invalid_attr_value("RedriveAllowPolicy", "Redrive allow policy is not a valid JSON map.")
    if not isinstance(data, dict) or data.get("redrivePermission") not in ("allowAll", "denyAll", "byQueue"):
        raise invalid_attr_value("RedriveAllowPolicy", "Invalid redrivePermission.")
    arns = data.get("sourceQueueArns")
    if data["redrivePermission"] == "byQueue":
        if not isinstance(arns, list) or not 1 <= len(arns) <= 10 or not all(
            isinstance(a, str) and ARN_RE.fullmatch(a) for a in arns
        ):
            raise invalid_attr_value("RedriveAllowPolicy", "sourceQueueArns must list 1 to 10 queue ARNs.")
        return {"redrivePermission": "byQueue", "sourceQueueArns": arns}
    if arns:
        raise invalid_attr_value(
            "RedriveAllowPolicy", "sourceQueueArns can be given only when redrivePermission is byQueue."
        )
    return {"redrivePermission": data["redrivePermission"]}
