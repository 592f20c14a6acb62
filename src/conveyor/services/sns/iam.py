"""What each SNS operation asks IAM for (`--iam report|enforce`), and the SNS -> SQS delivery check.

https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsns.html and
https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-language-api-permissions-reference.html
- Topic operations act on the topic's ARN (`arn:aws:sns:REGION:ACCOUNT:NAME`); CreateTopic on the ARN the
  topic will have; PublishBatch is sns:Publish; a subscription's operations act on its topic.
- ListTopics and ListSubscriptions, and publishing to a phone number, act on no topic ("*").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conveyor.authz import Need
from conveyor.wire import RequestContext

ACTIONS = {"PublishBatch": "sns:Publish"}
_RESOURCE_PARAMS = ("TopicArn", "TargetArn", "ResourceArn")


def _topic_of_subscription(arn: str) -> str:
    """arn:aws:sns:REGION:ACCOUNT:TOPIC:ID -> arn:aws:sns:REGION:ACCOUNT:TOPIC"""
    parts = arn.split(":")
    return ":".join(parts[:6]) if len(parts) == 7 else "*"


def needs(ctx: RequestContext, operation: str, params: Mapping[str, Any]) -> list[Need]:
    action = ACTIONS.get(operation, f"sns:{operation}")
    if operation == "CreateTopic":
        return [Need(action, f"arn:aws:sns:{ctx.region}:{ctx.account_id}:{params.get('Name', '')}")]
    for name in _RESOURCE_PARAMS:
        value = params.get(name)
        if isinstance(value, str) and value.startswith("arn:"):
            return [Need(action, value)]
    subscription = params.get("SubscriptionArn")
    if isinstance(subscription, str):
        return [Need(action, _topic_of_subscription(subscription))]
    return [Need(action)]
