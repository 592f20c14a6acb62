"""AWS::SNS::Topic, AWS::SNS::Subscription and AWS::SNS::TopicPolicy.
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-sns-topic.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-sns-subscription.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-sns-topicpolicy.html
"""

from __future__ import annotations

import json
from typing import Any

from conveyor.services.cloudformation.resources.base import (
    Made,
    ResourceType,
    Target,
    as_json,
    ignore_missing,
    tag_list,
)

_TOPIC_ATTRIBUTES = ("DisplayName", "ContentBasedDeduplication")
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


class Topic(ResourceType):
    type_name = "AWS::SNS::Topic"
    properties = frozenset({"TopicName", "FifoTopic", "Subscription", "Tags", *_TOPIC_ATTRIBUTES})
    replace_on = frozenset({"TopicName", "FifoTopic"})
    name_property = "TopicName"

    async def create(self, target: Target, properties: dict[str, Any]) -> Made:
        fifo = str(properties.get("FifoTopic", "false")).lower() == "true"
        name = str(properties.get("TopicName") or target.generated_name(256, suffix=".fifo" if fifo else ""))
        attributes = {key: _text(properties[key]) for key in _TOPIC_ATTRIBUTES if key in properties}
        if fifo:
            attributes["FifoTopic"] = "true"
        request: dict[str, Any] = {"Name": name, "Attributes": attributes}
        if properties.get("Tags"):
            request["Tags"] = tag_list(properties["Tags"])
        arn = (await target.call("sns", "CreateTopic", request))["TopicArn"]
        for subscription in properties.get("Subscription") or []:
            await target.call("sns", "Subscribe", {"TopicArn": arn, "Protocol": subscription["Protocol"],
                                                   "Endpoint": subscription["Endpoint"]})
        return Made(arn, {"TopicArn": arn, "TopicName": name})

    async def update(self, target: Target, current: Made, old: dict[str, Any], new: dict[str, Any]) -> Made:
        arn = current.physical_id
        for key in _TOPIC_ATTRIBUTES:
            if old.get(key) != new.get(key):
                await target.call("sns", "SetTopicAttributes", {"TopicArn": arn, "AttributeName": key,
                                                                "AttributeValue": _text(new.get(key, ""))})
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
