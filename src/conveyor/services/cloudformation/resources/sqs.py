"""AWS::SQS::Queue and AWS::SQS::QueuePolicy.
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-sqs-queue.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-sqs-queuepolicy.html
"""

from __future__ import annotations

from typing import Any

from conveyor.services.cloudformation.resources.base import (
    Made,
    ResourceType,
    Target,
    as_json,
    ignore_missing,
    tag_map,
)

# Template properties that are queue attributes of the same name, and what an attribute returns to when
# the template stops setting it (SQS's defaults, as CreateQueue's API reference lists them).
_ATTRIBUTES = {"DelaySeconds": "0", "MaximumMessageSize": "1048576", "MessageRetentionPeriod": "345600",
               "ReceiveMessageWaitTimeSeconds": "0", "VisibilityTimeout": "30", "RedrivePolicy": "",
               "RedriveAllowPolicy": "", "ContentBasedDeduplication": "false", "DeduplicationScope": "queue",
               "FifoThroughputLimit": "perQueue", "SqsManagedSseEnabled": "true",
               # SSE-KMS: an empty key id turns it off again (SetQueueAttributes); 300 s is SQS's default reuse.
               "KmsMasterKeyId": "", "KmsDataKeyReusePeriodSeconds": "300"}
_JSON = ("RedrivePolicy", "RedriveAllowPolicy")


def _text(name: str, value: Any) -> str:
    if name in _JSON:
        return as_json(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Queue(ResourceType):
    type_name = "AWS::SQS::Queue"
    properties = frozenset({"QueueName", "FifoQueue", "Tags", *_ATTRIBUTES})
    replace_on = frozenset({"QueueName", "FifoQueue"})
    name_property = "QueueName"

    async def _made(self, target: Target, url: str) -> Made:
        found = await target.call("sqs", "GetQueueAttributes", {"QueueUrl": url, "AttributeNames": ["QueueArn"]})
        arn = found["Attributes"]["QueueArn"]
        # Ref is the queue URL; Arn, QueueName and QueueUrl are its attributes.
        return Made(url, {"Arn": arn, "QueueName": arn.rsplit(":", 1)[1], "QueueUrl": url})

    async def create(self, target: Target, properties: dict[str, Any]) -> Made:
        fifo = str(properties.get("FifoQueue", "false")).lower() == "true"
        name = str(properties.get("QueueName") or target.generated_name(80, suffix=".fifo" if fifo else ""))
        attributes = {key: _text(key, value) for key, value in properties.items() if key in _ATTRIBUTES}
        if "FifoQueue" in properties:
            # Given as written: AWS refuses FifoQueue false as CreateQueue does ("Unknown Attribute
            # FifoQueue.", aws/aws-cdk#31922), so a template that fails there fails here too.
            attributes["FifoQueue"] = _text("FifoQueue", properties["FifoQueue"]).lower()
        request: dict[str, Any] = {"QueueName": name, "Attributes": attributes}
        if properties.get("Tags"):
            request["tags"] = tag_map(properties["Tags"])
        created = await target.call("sqs", "CreateQueue", request)
        return await self._made(target, created["QueueUrl"])

    async def update(self, target: Target, current: Made, old: dict[str, Any], new: dict[str, Any]) -> Made:
        changed = {key: _text(key, new[key]) if key in new else default
                   for key, default in _ATTRIBUTES.items() if old.get(key) != new.get(key)}
        if changed:
            await target.call("sqs", "SetQueueAttributes", {"QueueUrl": current.physical_id, "Attributes": changed})
        if old.get("Tags") != new.get("Tags"):
            gone = sorted(set(tag_map(old.get("Tags"))) - set(tag_map(new.get("Tags"))))
            if gone:
                await target.call("sqs", "UntagQueue", {"QueueUrl": current.physical_id, "TagKeys": gone})
            if new.get("Tags"):
                await target.call("sqs", "TagQueue", {"QueueUrl": current.physical_id, "Tags": tag_map(new["Tags"])})
        return await self._made(target, current.physical_id)

    async def delete(self, target: Target, current: Made, properties: dict[str, Any]) -> None:
        await ignore_missing(target, "sqs", "DeleteQueue", {"QueueUrl": current.physical_id},
                             "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")


class QueuePolicy(ResourceType):
    type_name = "AWS::SQS::QueuePolicy"
    properties = frozenset({"Queues", "PolicyDocument"})
    required = properties

    async def create(self, target: Target, properties: dict[str, Any]) -> Made:
        for url in properties["Queues"]:
            await target.call("sqs", "SetQueueAttributes", {
                "QueueUrl": url, "Attributes": {"Policy": as_json(properties["PolicyDocument"])}})
        return Made(target.generated_name(128))

    async def update(self, target: Target, current: Made, old: dict[str, Any], new: dict[str, Any]) -> Made:
        for url in sorted(set(old["Queues"]) - set(new["Queues"])):
            await ignore_missing(target, "sqs", "SetQueueAttributes", {"QueueUrl": url, "Attributes": {"Policy": ""}},
                                 "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")
        await self.create(target, new)
        return current

    async def delete(self, target: Target, current: Made, properties: dict[str, Any]) -> None:
        for url in properties.get("Queues") or []:
            await ignore_missing(target, "sqs", "SetQueueAttributes", {"QueueUrl": url, "Attributes": {"Policy": ""}},
                                 "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")
