"""Topics: names, attributes and the defaults AWS reports for them.

https://docs.aws.amazon.com/sns/latest/api/API_SetTopicAttributes.html
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from conveyor import jsondoc
from conveyor.protocol.models import service_model
from conveyor.wire import ServiceError

_NAME = re.compile(r"[A-Za-z0-9_-]{1,256}")
DEFAULT_HTTP_RETRY = {
    "minDelayTarget": 20, "maxDelayTarget": 20, "numRetries": 3, "numMaxDelayRetries": 0,
    "numNoDelayRetries": 0, "numMinDelayRetries": 0, "backoffFunction": "linear",
}
# Attributes a caller may set (CreateTopic / SetTopicAttributes). Anything else is refused, not ignored.
# Delivery-status logging: where and how often SNS logs deliveries per protocol (kept; Conveyor logs its own way).
# https://docs.aws.amazon.com/sns/latest/api/API_SetTopicAttributes.html
FEEDBACK = frozenset(f"{protocol}{kind}" for protocol in ("Application", "Firehose", "HTTP", "Lambda", "SQS")
                     for kind in ("SuccessFeedbackRoleArn", "SuccessFeedbackSampleRate", "FailureFeedbackRoleArn"))
SETTABLE = {"DisplayName", "Policy", "DeliveryPolicy", "KmsMasterKeyId", "SignatureVersion", "TracingConfig",
            "ContentBasedDeduplication", "FifoThroughputScope", "ArchivePolicy", *FEEDBACK}
CREATE_ONLY = {"FifoTopic"}


def invalid(message: str) -> ServiceError:
    return ServiceError("InvalidParameter", f"Invalid parameter: {message}")


def not_found() -> ServiceError:
    return ServiceError("NotFound", "Topic does not exist", 404)


@dataclass
class Topic:
    arn: str
    account: str
    region: str
    name: str
    attrs: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    seq: int = 0
    # FIFO topics' deduplication window: dedup id -> (expires, message id, sequence number). It lives and
    # dies with the topic, as its rows do. Insertion order is expiry order: the window is fixed.
    dedup: dict[str, tuple[float, str, str | None]] = field(default_factory=dict)

    @property
    def fifo(self) -> bool:
        return self.attrs.get("FifoTopic") == "true"

    @property
    def content_dedup(self) -> bool:
        return self.attrs.get("ContentBasedDeduplication") == "true"

    @property
    def signature_version(self) -> str:
        return self.attrs.get("SignatureVersion", "1")

    def duplicate_of(self, dedup_id: str, now: float) -> tuple[float, str, str | None] | None:
        """The publish `dedup_id` repeats within the window, if any; ids whose window has passed are
        forgotten on the way, as the store forgets their rows."""
        window = self.dedup
        while window:
            oldest = next(iter(window))
            if window[oldest][0] > now:
                break
            del window[oldest]
        return window.get(dedup_id)

    def remember(self, dedup_id: str, expires: float, message_id: str, seq: str | None) -> None:
        self.dedup.pop(dedup_id, None)  # (re-inserted at the end, to keep expiry order)
        self.dedup[dedup_id] = (expires, message_id, seq)

    def delivery_policy(self) -> dict[str, Any]:
        raw = self.attrs.get("DeliveryPolicy")
        return json.loads(raw) if raw else {}


_RULE = ("must be made up of only uppercase and lowercase ASCII letters, numbers, underscores, and hyphens, and "
         "must be between 1 and 256 characters long.")


def check_name(name: str, fifo: bool) -> None:
    """A topic name refused as SNS words it, without its usual "Invalid parameter: " for the .fifo suffix: a
    standard topic named NAME.fifo gets "Topic names must be made up of ..." (AWS's answer recorded in
    awspring/spring-cloud-aws#707), a FIFO topic without the suffix the same rule prefixed "Fifo Topic names must
    end with .fifo and" (its counterpart; in 2020 AWS answered it "Invalid parameter: Topic Name",
    awsdocs/aws-cloudformation-user-guide#860); any other bad name is "Invalid parameter: Topic Name".
    https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html"""
    base = name[:-5] if name.endswith(".fifo") else name
    if fifo != name.endswith(".fifo") or not _NAME.fullmatch(base) or len(name) > 256:
        if fifo:
            raise ServiceError("InvalidParameter", f"Fifo Topic names must end with .fifo and {_RULE}")
        if name.endswith(".fifo") and _NAME.fullmatch(base):
            raise ServiceError("InvalidParameter", f"Topic names {_RULE}")
        raise invalid("Topic Name")


def normalize(attrs: dict[str, str], *, creating: bool, fifo: bool) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in attrs.items():
        if name not in SETTABLE and not (creating and name in CREATE_ONLY):
            raise invalid("AttributeName")
        try:
            out[name] = check_attribute(name, value, fifo)
        except ServiceError as err:
            # CreateTopic names the attribute at fault after "Attributes Reason: " where SetTopicAttributes
            # does not, as AWS answered a connector's tests run against it ("Invalid parameter: Attributes
            # Reason: DeliveryPolicy: ..." against "Invalid parameter: DeliveryPolicy: ...").
            bare = err.message.removeprefix("Invalid parameter: ")
            if creating and name in ("DeliveryPolicy", "Policy") and not bare.startswith("Attributes Reason: "):
                raise invalid("Attributes Reason: " + bare) from None
            raise
    return out


def check_attribute(name: str, value: str, fifo: bool) -> str:
    if name == "FifoTopic":
        if value.lower() not in ("true", "false"):
            raise invalid("Attributes Reason: FifoTopic must be true or false")
        return value.lower()
    if name == "ContentBasedDeduplication":
        if value.lower() not in ("true", "false"):
            raise invalid("Attributes Reason: ContentBasedDeduplication must be true or false")
        if not fifo and value.lower() == "true":
            raise invalid("Attributes Reason: Content based deduplication can only be set for FIFO topics")
        return value.lower()
    if name == "SignatureVersion":
        if value not in ("1", "2"):
            raise invalid("SignatureVersion")
        return value
    if name == "TracingConfig":
        if value not in ("PassThrough", "Active"):
            raise invalid("Attributes Reason: TracingConfig must be PassThrough or Active")
        return value
    if name == "FifoThroughputScope":
        # Topic or MessageGroup, on FIFO topics only (API_SetTopicAttributes).
        if not fifo:
            raise invalid("Attributes Reason: FifoThroughputScope can only be set for FIFO topics")
        if value not in ("Topic", "MessageGroup"):
            raise invalid("Attributes Reason: FifoThroughputScope must be Topic or MessageGroup")
        return value
    if name == "ArchivePolicy" and value:
        if not fifo:
            raise invalid("Attributes Reason: ArchivePolicy can only be set for FIFO topics")
        try:
            days = json.loads(value).get("MessageRetentionPeriod")
        except (ValueError, AttributeError):
            raise invalid("Attributes Reason: ArchivePolicy: failed to parse JSON")
        if not isinstance(days, int | str) or not str(days).isdigit() or not 1 <= int(days) <= 365:
            raise invalid("Attributes Reason: ArchivePolicy: MessageRetentionPeriod must be 1 to 365 days")
        return value
    if name.endswith("SampleRate"):
        if not value.isdigit() or not 0 <= int(value) <= 100:
            # AWS's words, as it answered a connector's tests run against it.
            raise invalid(f"Attributes Reason: {name}: {value} value provided is not an integer between 0-100")
        return value
    if name == "DisplayName":
        if len(value) > 100:
            raise invalid("DisplayName")
        return value
    if name in ("Policy", "DeliveryPolicy") and value:
        try:
            doc = jsondoc.loads(value)
        except ValueError:
            raise invalid(f"Attributes Reason: {name}: failed to parse JSON")
        if not isinstance(doc, dict):
            raise invalid(f"Attributes Reason: {name}: must be a JSON object")
        if name == "DeliveryPolicy":
            check_delivery_policy(doc, topic=True)
        else:
            _check_policy_actions(doc)
    return value


# Every SNS API action: a topic policy's actions must be SNS's ("*", "sns:*" and other wildcards aside).
_SNS_ACTIONS = frozenset(name.lower() for name in service_model("sns").operation_names)


def _check_policy_actions(doc: dict[str, Any]) -> None:
    """A topic policy whose statement allows or denies an action that is not SNS's is refused, as AWS
    answered a connector's tests run against it ("SNS:Publishx")."""
    statements = doc.get("Statement")
    for statement in statements if isinstance(statements, list) else [statements]:
        if not isinstance(statement, dict):
            continue
        for key in ("Action", "NotAction"):
            actions = statement.get(key)
            for action in actions if isinstance(actions, list) else [actions] if actions is not None else []:
                text = str(action)
                service, _, name = text.partition(":")
                if text == "*" or (service.lower() == "sns" and ("*" in name or "?" in name
                                                                or name.lower() in _SNS_ACTIONS)):
                    continue
                raise invalid("Policy statement action out of service scope!")


def check_delivery_policy(doc: dict[str, Any], *, topic: bool) -> None:
    """Only the HTTP retry policy is meaningful here (the protocol we retry)."""
    retry = doc.get("http", {}).get("defaultHealthyRetryPolicy") if topic else doc.get("healthyRetryPolicy")
    if retry is None:
        return
    if not isinstance(retry, dict):
        raise invalid("DeliveryPolicy: healthyRetryPolicy must be an object")
    merged = {**DEFAULT_HTTP_RETRY, **retry}
    try:
        n = int(merged["numRetries"])
        lo, hi = int(merged["minDelayTarget"]), int(merged["maxDelayTarget"])
    except (TypeError, ValueError):
        raise invalid("DeliveryPolicy: retry counts and delays must be integers")
    path = "http.defaultHealthyRetryPolicy" if topic else "healthyRetryPolicy"
    if n > 100:  # as AWS words it (a connector's tests run against AWS record it)
        raise invalid(f"DeliveryPolicy: {path}.numRetries must be less than or equal to 100")
    if not 0 <= n <= 100 or not 1 <= lo <= hi <= 3600:
        raise invalid("DeliveryPolicy: numRetries must be 0-100 and 1 <= minDelayTarget <= maxDelayTarget "
                      "<= 3600")
    if merged["backoffFunction"] not in ("linear", "arithmetic", "geometric", "exponential"):
        raise invalid("DeliveryPolicy: backoffFunction")


def default_policy(arn: str, account: str) -> str:
    return json.dumps({
        "Version": "2008-10-17", "Id": "__default_policy_ID",
        "Statement": [{
            "Sid": "__default_statement_ID", "Effect": "Allow", "Principal": {"AWS": "*"},
            "Action": ["SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission",
                       "SNS:RemovePermission", "SNS:DeleteTopic", "SNS:Subscribe",
                       "SNS:ListSubscriptionsByTopic", "SNS:Publish"],
            "Resource": arn, "Condition": {"StringEquals": {"AWS:SourceOwner": account}},
        }],
    }, separators=(",", ":"))


def effective_delivery_policy(topic: Topic) -> str:
    http = topic.delivery_policy().get("http", {})
    retry = {**DEFAULT_HTTP_RETRY, **http.get("defaultHealthyRetryPolicy", {})}
    return json.dumps({"http": {
        "defaultHealthyRetryPolicy": retry,
        "disableSubscriptionOverrides": http.get("disableSubscriptionOverrides", False),
        "defaultRequestPolicy": http.get("defaultRequestPolicy", {"headerContentType": "text/plain; charset=UTF-8"}),
    }}, separators=(",", ":"))


def attributes(topic: Topic, counts: tuple[int, int, int]) -> dict[str, str]:
    confirmed, pending, deleted = counts
    out = {
        "Policy": topic.attrs.get("Policy") or default_policy(topic.arn, topic.account),
        "Owner": topic.account,
        "SubscriptionsPending": str(pending),
        "TopicArn": topic.arn,
        "EffectiveDeliveryPolicy": effective_delivery_policy(topic),
        "SubscriptionsConfirmed": str(confirmed),
        "DisplayName": topic.attrs.get("DisplayName", ""),
        "SubscriptionsDeleted": str(deleted),
    }
    for name in ("DeliveryPolicy", "KmsMasterKeyId", "SignatureVersion", "TracingConfig", "ArchivePolicy",
                 *sorted(FEEDBACK)):
        if topic.attrs.get(name):
            out[name] = topic.attrs[name]
    if topic.fifo:
        out["FifoTopic"] = "true"
        out["ContentBasedDeduplication"] = topic.attrs.get("ContentBasedDeduplication", "false")
        out["FifoThroughputScope"] = topic.attrs.get("FifoThroughputScope", "Topic")
    return out
