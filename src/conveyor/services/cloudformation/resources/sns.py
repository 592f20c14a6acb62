"""AWS::SNS::Topic, AWS::SNS::Subscription and AWS::SNS::TopicPolicy.
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-sns-topic.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-sns-subscription.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-sns-topicpolicy.html
"""

from __future__ import annotations

import json
from typing import Any

from conveyor.services.cloudformation.errors import ResourceFailure
from conveyor.services.cloudformation.resources.base import (
    Made,
    ResourceType,
    Target,
    as_json,
    ignore_missing,
    tag_list,
)

# Template properties that are topic attributes of the same name, and what each returns to when the template
# stops setting it (SNS's defaults; the FIFO-only ones are only ever set on FIFO topics).
_TOPIC_ATTRIBUTES = {"DisplayName": "", "ContentBasedDeduplication": "false", "KmsMasterKeyId": "",
                     "SignatureVersion": "1", "TracingConfig": "PassThrough", "FifoThroughputScope": "Topic",
                     "ArchivePolicy": ""}
# DeliveryStatusLogging's protocols and the prefix of their topic attributes (HTTPSuccessFeedbackRoleArn, ...).
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-sns-topic-loggingconfig.html
_LOGGING_PREFIX = {"http/s": "HTTP", "sqs": "SQS", "lambda": "Lambda", "firehose": "Firehose",
                   "application": "Application"}
_LOGGING_FIELDS = ("SuccessFeedbackRoleArn", "SuccessFeedbackSampleRate", "FailureFeedbackRoleArn")
# Subscription attributes and what each returns to when the template stops setting it.
_SUBSCRIPTION_ATTRIBUTES = {"RawMessageDelivery": "false", "FilterPolicy": "", "FilterPolicyScope": "MessageAttributes",
                            "RedrivePolicy": "", "DeliveryPolicy": ""}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return as_json(value) if isinstance(value, (dict, list)) else str(value)


def default_topic_policy(arn: str, account: str) -> str:
    """The policy a topic has when nobody set one, which deleting a TopicPolicy puts back."""
    return json.dumps({"Version": "2008-10-17", "Id": "__default_policy_ID", "Statement": [{
        "Sid": "__default_statement_ID", "Effect": "Allow", "Principal": {"AWS": "*"},
        "Action": ["SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission", "SNS:RemovePermission",
                   "SNS:DeleteTopic", "SNS:Subscribe", "SNS:ListSubscriptionsByTopic", "SNS:Publish"],
        "Resource": arn, "Condition": {"StringEquals": {"AWS:SourceOwner": account}}}]})


def _logging(configs: Any) -> dict[str, str]:
    """DeliveryStatusLogging as the topic attributes it stands for."""
    out: dict[str, str] = {}
    for config in configs or []:
        prefix = _LOGGING_PREFIX.get(str(config.get("Protocol")))
        if prefix is None:
            raise ResourceFailure(f"Invalid protocol {config.get('Protocol')!r} in DeliveryStatusLogging: expected "
                                  f"one of {', '.join(_LOGGING_PREFIX)}")
        out.update({prefix + field: _text(config[field]) for field in _LOGGING_FIELDS if field in config})
    return out


class Topic(ResourceType):
    type_name = "AWS::SNS::Topic"
    properties = frozenset({"TopicName", "FifoTopic", "Subscription", "Tags", "DataProtectionPolicy",
                            "DeliveryStatusLogging", *_TOPIC_ATTRIBUTES})
    replace_on = frozenset({"TopicName", "FifoTopic"})
    name_property = "TopicName"

    async def create(self, target: Target, properties: dict[str, Any]) -> Made:
        fifo = str(properties.get("FifoTopic", "false")).lower() == "true"
        name = str(properties.get("TopicName") or target.generated_name(256, suffix=".fifo" if fifo else ""))
        attributes = {key: _text(properties[key]) for key in _TOPIC_ATTRIBUTES if key in properties}
        attributes.update(_logging(properties.get("DeliveryStatusLogging")))
        if fifo:
            attributes["FifoTopic"] = "true"
        request: dict[str, Any] = {"Name": name, "Attributes": attributes}
        if properties.get("DataProtectionPolicy"):
            request["DataProtectionPolicy"] = as_json(properties["DataProtectionPolicy"])
        if properties.get("Tags"):
            request["Tags"] = tag_list(properties["Tags"])
        arn = (await target.call("sns", "CreateTopic", request))["TopicArn"]
        for subscription in properties.get("Subscription") or []:
            await target.call("sns", "Subscribe", {"TopicArn": arn, "Protocol": subscription["Protocol"],
                                                   "Endpoint": subscription["Endpoint"]})
        return Made(arn, {"TopicArn": arn, "TopicName": name})

    async def update(self, target: Target, current: Made, old: dict[str, Any], new: dict[str, Any]) -> Made:
        arn = current.physical_id
        changed = {key: _text(new[key]) if key in new else default
                   for key, default in _TOPIC_ATTRIBUTES.items() if old.get(key) != new.get(key)}
        logged, logging = _logging(old.get("DeliveryStatusLogging")), _logging(new.get("DeliveryStatusLogging"))
        # A logging setting the template drops: no role, and a sample rate of 0 (SNS takes no empty rate).
        changed.update({key: logging.get(key, "0" if key.endswith("SampleRate") else "")
                        for key in sorted(logged.keys() | logging.keys()) if logged.get(key) != logging.get(key)})
        for key, value in changed.items():
            await target.call("sns", "SetTopicAttributes", {"TopicArn": arn, "AttributeName": key,
                                                            "AttributeValue": value})
        if old.get("DataProtectionPolicy") != new.get("DataProtectionPolicy"):
            # An empty policy removes it (PutDataProtectionPolicy).
            policy = as_json(new["DataProtectionPolicy"]) if new.get("DataProtectionPolicy") else ""
            await target.call("sns", "PutDataProtectionPolicy", {"ResourceArn": arn, "DataProtectionPolicy": policy})
        before = {(s["Protocol"], s["Endpoint"]) for s in old.get("Subscription") or []}
        after = {(s["Protocol"], s["Endpoint"]) for s in new.get("Subscription") or []}
        if before != after:
            listed = await target.call("sns", "ListSubscriptionsByTopic", {"TopicArn": arn})
            for existing in listed.get("Subscriptions") or []:
                if (existing["Protocol"], existing["Endpoint"]) in before - after:
                    await target.call("sns", "Unsubscribe", {"SubscriptionArn": existing["SubscriptionArn"]})
            for protocol, endpoint in sorted(after - before):
                await target.call("sns", "Subscribe", {"TopicArn": arn, "Protocol": protocol, "Endpoint": endpoint})
        return current

    async def delete(self, target: Target, current: Made, properties: dict[str, Any]) -> None:
        await ignore_missing(target, "sns", "DeleteTopic", {"TopicArn": current.physical_id}, "NotFound")


class Subscription(ResourceType):
    type_name = "AWS::SNS::Subscription"
    properties = frozenset({"TopicArn", "Protocol", "Endpoint", "Region", *_SUBSCRIPTION_ATTRIBUTES})
    required = frozenset({"TopicArn", "Protocol"})
    replace_on = frozenset({"TopicArn", "Protocol", "Endpoint", "Region"})

    async def create(self, target: Target, properties: dict[str, Any]) -> Made:
        attributes = {key: _text(properties[key]) for key in _SUBSCRIPTION_ATTRIBUTES if key in properties}
        request: dict[str, Any] = {"TopicArn": properties["TopicArn"], "Protocol": properties["Protocol"],
                                   "Attributes": attributes, "ReturnSubscriptionArn": True}
        if "Endpoint" in properties:
            request["Endpoint"] = properties["Endpoint"]
        arn = (await target.call("sns", "Subscribe", request))["SubscriptionArn"]
        return Made(arn)

    async def update(self, target: Target, current: Made, old: dict[str, Any], new: dict[str, Any]) -> Made:
        for key, default in _SUBSCRIPTION_ATTRIBUTES.items():
            if old.get(key) != new.get(key):
                await target.call("sns", "SetSubscriptionAttributes", {
                    "SubscriptionArn": current.physical_id, "AttributeName": key,
                    "AttributeValue": _text(new[key]) if key in new else default})
        return current

    async def delete(self, target: Target, current: Made, properties: dict[str, Any]) -> None:
        await ignore_missing(target, "sns", "Unsubscribe", {"SubscriptionArn": current.physical_id}, "NotFound")


class TopicPolicy(ResourceType):
    type_name = "AWS::SNS::TopicPolicy"
    properties = frozenset({"Topics", "PolicyDocument"})
    required = properties

    async def create(self, target: Target, properties: dict[str, Any]) -> Made:
        for arn in properties["Topics"]:
            await target.call("sns", "SetTopicAttributes", {"TopicArn": arn, "AttributeName": "Policy",
                                                            "AttributeValue": as_json(properties["PolicyDocument"])})
        return Made(target.generated_name(128))

    async def update(self, target: Target, current: Made, old: dict[str, Any], new: dict[str, Any]) -> Made:
        await self._reset(target, sorted(set(old["Topics"]) - set(new["Topics"])))
        await self.create(target, new)
        return current

    async def _reset(self, target: Target, topics: list[str]) -> None:
        for arn in topics:
            await ignore_missing(target, "sns", "SetTopicAttributes", {
                "TopicArn": arn, "AttributeName": "Policy",
                "AttributeValue": default_topic_policy(arn, target.account)}, "NotFound")

    async def delete(self, target: Target, current: Made, properties: dict[str, Any]) -> None:
        await self._reset(target, list(properties.get("Topics") or []))
