"""Subscriptions: protocols, endpoints and their attributes.

https://docs.aws.amazon.com/sns/latest/api/API_SetSubscriptionAttributes.html
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from conveyor import jsondoc
from conveyor.services.sns import filter_policy
from conveyor.services.sns.sms import check_sms_endpoint
from conveyor.services.sns.topics import DEFAULT_HTTP_RETRY, check_delivery_policy, invalid

SETTABLE = {"RawMessageDelivery", "FilterPolicy", "FilterPolicyScope", "RedrivePolicy", "DeliveryPolicy"}
# Protocols AWS has that Conveyor does not deliver to: refused with a clear message (Firehose is not served).
_UNSUPPORTED = {"firehose"}
# Delivered into the local record of sent messages (mailbox.py) instead of a mail server, carrier or push service.
RECORDED = frozenset({"email", "email-json", "sms", "application"})
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


@dataclass
class Subscription:
    arn: str
    topic_arn: str
    protocol: str
    endpoint: str
    owner: str
    attrs: dict[str, str] = field(default_factory=dict)
    confirmed: bool = True
    token: str | None = None
    policy: dict[str, Any] | None = None  # parsed FilterPolicy

    def __post_init__(self) -> None:
        self.refresh()

    def refresh(self) -> None:
        text = self.attrs.get("FilterPolicy")
        self.policy = filter_policy.parse(text, self.scope) if text else None

    @property
    def raw(self) -> bool:
        return self.attrs.get("RawMessageDelivery") == "true"

    @property
    def scope(self) -> str:
        return self.attrs.get("FilterPolicyScope", "MessageAttributes")

    @property
    def dlq_arn(self) -> str | None:
        text = self.attrs.get("RedrivePolicy")
        return json.loads(text).get("deadLetterTargetArn") if text else None

    def retry_policy(self, topic_policy: dict[str, Any]) -> dict[str, Any]:
        http = topic_policy.get("http", {})
        retry = {**DEFAULT_HTTP_RETRY, **http.get("defaultHealthyRetryPolicy", {})}
        own = self.attrs.get("DeliveryPolicy")
        if own and not http.get("disableSubscriptionOverrides"):
            retry.update(json.loads(own).get("healthyRetryPolicy", {}))
        return retry

    def wants(self, message: str, attributes: dict[str, Any] | None) -> bool:
        if self.policy is None:
            return True
        if self.scope == "MessageBody":
            return filter_policy.matches(self.policy, filter_policy.body_view(message))
        return filter_policy.matches(self.policy, filter_policy.attributes_view(attributes))


# Characters a URL in an HTTP request line cannot carry (they would need percent-encoding).
_CONTROL = re.compile(r"[\x00-\x20\x7f]")


def check_endpoint(protocol: str, endpoint: str | None, fifo_topic: bool, functions_served: bool,
                   device_exists: Callable[[str], bool]) -> str:
    """The endpoint a Subscribe names, once it suits the protocol (AWS's messages for those it refuses).
    https://docs.aws.amazon.com/sns/latest/api/API_Subscribe.html"""
    if protocol in _UNSUPPORTED:
        raise invalid(f"Protocol Reason: Conveyor does not deliver to {protocol} endpoints "
                      "(supported: sqs, http, https, lambda, email, email-json, sms, application)")
    if protocol not in ("sqs", "http", "https", "lambda") and protocol not in RECORDED:
        raise invalid(f"Amazon SNS does not support this protocol string: {protocol}")
    if not endpoint:
        raise invalid("Endpoint Reason: Endpoint is required for this protocol")
    if protocol in ("email", "email-json") and not _EMAIL.fullmatch(endpoint):
        raise invalid("Email address")
    if protocol == "sms":
        check_sms_endpoint(endpoint)
    if protocol == "application" and ":endpoint/" not in endpoint:
        # An ARN that names no platform endpoint at all (a topic's, say), as AWS answered a connector's
        # tests run against it ("Invalid parameter: Application endpoint arn invalid:arn:...").
        raise invalid(f"Application endpoint arn invalid:{endpoint}")
    if protocol == "application" and not device_exists(endpoint):
        raise invalid(f"Endpoint Reason: Endpoint does not exist for endpoint arn{endpoint}")
    if protocol == "sqs":
        parts = endpoint.split(":")
        if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sqs":
            raise invalid("SQS endpoint ARN")
        if parts[5].endswith(".fifo") and not fifo_topic:
            raise invalid("Invalid parameter: Endpoint Reason: FIFO SQS Queues can not be subscribed to "
                          "standard SNS topics")
    elif protocol in ("http", "https"):
        try:
            url = urlparse(endpoint)
            url.port  # noqa: B018 -- raises ValueError for a port that is not a number in 0-65535
        except ValueError:  # "http://[" and other URLs that do not parse
            raise invalid("Endpoint must match the specified protocol")
        if url.scheme != protocol or not url.netloc or _CONTROL.search(endpoint):
            # (a space or control character cannot be sent in a request line at all)
            raise invalid("Endpoint must match the specified protocol")
    elif protocol == "lambda":
        parts = endpoint.split(":")
        if len(parts) < 7 or parts[0] != "arn" or parts[2] != "lambda":
            raise invalid("Lambda endpoint ARN")
        if not functions_served:
            raise invalid("Endpoint Reason: Conveyor is running without its Lambda service, so lambda "
                          "endpoints cannot be delivered to")
    if fifo_topic and protocol != "sqs":
        raise invalid("Invalid parameter: Endpoint Reason: Please use FIFO SQS queue")
    return endpoint


def check_attribute(name: str, value: str, protocol: str) -> str:
    if name not in SETTABLE:
        raise invalid("AttributeName")
    if name == "RawMessageDelivery":
        if value.lower() not in ("true", "false"):
            raise invalid("Attributes Reason: RawMessageDelivery: Invalid value [" + value + "]. "
                          "Must be true or false.")
        if protocol not in ("sqs", "http", "https", "firehose"):
            raise invalid("Attributes Reason: Delivery protocol [" + protocol + "] does not support raw "
                          "message delivery.")
        return value.lower()
    if name == "FilterPolicyScope":
        if value not in ("MessageAttributes", "MessageBody"):
            raise invalid("Attributes Reason: FilterPolicyScope: Invalid value [" + value + "]. Please use "
                          "either MessageBody or MessageAttributes")
        return value
    if name == "RedrivePolicy":
        if not value:
            return value
        try:
            doc = jsondoc.loads(value)
            target = doc["deadLetterTargetArn"]
        except (ValueError, KeyError, TypeError):
            raise invalid("RedrivePolicy: deadLetterTargetArn is missing or the policy is not valid JSON")
        parts = str(target).split(":")
        if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sqs":
            raise invalid("RedrivePolicy: Invalid deadLetterTargetArn: " + str(target))
        return value
    if name == "DeliveryPolicy":
        if protocol not in ("http", "https"):
            raise invalid("DeliveryPolicy: only http and https subscriptions have a delivery policy")
        try:
            doc = jsondoc.loads(value)
        except ValueError:
            raise invalid("DeliveryPolicy: failed to parse JSON")
        if not isinstance(doc, dict):
            raise invalid("DeliveryPolicy: must be a JSON object")
        check_delivery_policy(doc, topic=False)
        return value
    return value


def normalize(attrs: dict[str, str], protocol: str) -> dict[str, str]:
    out = {name: check_attribute(name, value, protocol) for name, value in attrs.items()}
    if "FilterPolicy" in out and out["FilterPolicy"]:
        # Subscribe names the attribute at fault as "Attributes Reason: FilterPolicy: ...", recorded against AWS
        # (SetSubscriptionAttributes says "FilterPolicy: ..." alone): see filter_policy_syntax.
        filter_policy.parse(out["FilterPolicy"], out.get("FilterPolicyScope", "MessageAttributes"),
                            reason_prefix="Attributes Reason: ")
    return out


def attributes(sub: Subscription, topic_policy: dict[str, Any]) -> dict[str, str]:
    out = {
        "Owner": sub.owner,
        "RawMessageDelivery": "true" if sub.raw else "false",
        "TopicArn": sub.topic_arn,
        "Endpoint": sub.endpoint,
        "Protocol": sub.protocol,
        "PendingConfirmation": "false" if sub.confirmed else "true",
        "ConfirmationWasAuthenticated": "true" if sub.confirmed else "false",
        "SubscriptionArn": sub.arn,
        "SubscriptionPrincipal": f"arn:aws:iam::{sub.owner}:root",
    }
    for name in ("FilterPolicy", "RedrivePolicy", "DeliveryPolicy"):
        if sub.attrs.get(name):
            out[name] = sub.attrs[name]
    if sub.attrs.get("FilterPolicy"):
        out["FilterPolicyScope"] = sub.scope
    if sub.protocol in ("http", "https"):
        out["EffectiveDeliveryPolicy"] = json.dumps(
            {"healthyRetryPolicy": sub.retry_policy(topic_policy)}, separators=(",", ":"))
    return out
