"""The JSON documents SNS delivers: notifications and (un)subscribe confirmations, field order as AWS's.

https://docs.aws.amazon.com/sns/latest/dg/sns-message-and-json-formats.html
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any
from urllib.parse import quote

from conveyor.services.sns.signing import Signer


def iso_ms(when: float) -> str:
    """2024-05-01T12:00:00.123Z, as SNS writes Timestamp."""
    ms = int(round(when * 1000))
    seconds, millis = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def cert_url(base_url: str) -> str:
    return f"{base_url}/?Action=GetSigningCert"


# AWS writes the ARNs in these URLs as they are, colons and all (the examples of the page above):
# ...?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-west-2:123456789012:MyTopic:c9135db0-...
def unsubscribe_url(base_url: str, subscription_arn: str) -> str:
    return f"{base_url}/?Action=Unsubscribe&SubscriptionArn={quote(subscription_arn, safe=':')}"


def subscribe_url(base_url: str, topic_arn: str, token: str) -> str:
    return f"{base_url}/?Action=ConfirmSubscription&TopicArn={quote(topic_arn, safe=':')}&Token={token}"


def envelope_attributes(attrs: dict[str, dict[str, Any]] | None) -> dict[str, dict[str, str]]:
    """{Name: {Type, Value}}; binary values base64-encoded, as in AWS's envelope."""
    out: dict[str, dict[str, str]] = {}
    for name, attr in (attrs or {}).items():
        value = attr.get("StringValue")
        if value is None and attr.get("BinaryValue") is not None:
            value = base64.b64encode(attr["BinaryValue"]).decode()
        out[name] = {"Type": attr["DataType"], "Value": value or ""}
    return out


def notification(signer: Signer, *, message_id: str, topic_arn: str, message: str, subject: str | None,
                 timestamp: float, signature_version: str, base_url: str, subscription_arn: str,
                 attributes: dict[str, dict[str, Any]] | None, sequence_number: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"Type": "Notification", "MessageId": message_id}
    if sequence_number is not None:
        doc["SequenceNumber"] = sequence_number
    doc["TopicArn"] = topic_arn
    if subject is not None:
        doc["Subject"] = subject
    doc["Message"] = message
    doc["Timestamp"] = iso_ms(timestamp)
    doc["SignatureVersion"] = signature_version
    doc["Signature"] = signer.sign(doc, signature_version)
    doc["SigningCertURL"] = cert_url(base_url)
    doc["UnsubscribeURL"] = unsubscribe_url(base_url, subscription_arn)
    if attributes:
        doc["MessageAttributes"] = envelope_attributes(attributes)
    return doc


def confirmation(signer: Signer, *, kind: str, message_id: str, topic_arn: str, token: str, timestamp: float,
                 signature_version: str, base_url: str) -> dict[str, Any]:
    """kind: "SubscriptionConfirmation" or "UnsubscribeConfirmation"."""
    if kind == "SubscriptionConfirmation":
        text = (f"You have chosen to subscribe to the topic {topic_arn}.\n"
                "To confirm the subscription, visit the SubscribeURL included in this message.")
    else:
        text = (f"You have chosen to deactivate subscription to the topic {topic_arn}.\n"
                "To cancel this operation and restore the subscription, visit the SubscribeURL included "
                "in this message.")
    doc: dict[str, Any] = {
        "Type": kind,
        "MessageId": message_id,
        "Token": token,
        "TopicArn": topic_arn,
        "Message": text,
        "SubscribeURL": subscribe_url(base_url, topic_arn, token),
        "Timestamp": iso_ms(timestamp),
        "SignatureVersion": signature_version,
    }
    doc["Signature"] = signer.sign(doc, signature_version)
    doc["SigningCertURL"] = cert_url(base_url)
    return doc


_scalar = json.JSONEncoder(ensure_ascii=False).encode
_UNSUBSCRIBE_LINE = '\n  "UnsubscribeURL" : '


def dumps(doc: dict[str, Any], level: int = 1) -> str:
    """AWS's layout: two-space indent and `"Key" : value`.

    Byte for byte what json.dumps(doc, indent=2, separators=(",", " : "), ensure_ascii=False) writes,
    but with the C encoder per value: the standard library falls back to its pure-Python encoder
    whenever `indent` is set, which made JSON layout the largest cost of a fan-out. Envelopes hold
    only strings and objects of strings.
    """
    if not doc:
        return "{}"
    pad = "  " * level
    lines = [f"{pad}{_scalar(key)} : {dumps(value, level + 1) if isinstance(value, dict) else _scalar(value)}"
             for key, value in doc.items()]
    return "{\n" + ",\n".join(lines) + "\n" + "  " * (level - 1) + "}"


class NotificationText:
    """A notification rendered once, for any number of subscriptions.

    Only UnsubscribeURL differs between subscriptions (the signature covers neither it nor the
    subscription), so the text is split around that value. The split is unambiguous: a raw newline
    followed by two spaces appears only in the layout, never inside an encoded string.
    """

    def __init__(self, doc: dict[str, Any]) -> None:
        text = dumps({**doc, "UnsubscribeURL": ""})
        self.head, found, self.tail = text.partition(_UNSUBSCRIBE_LINE + '""')
        assert found, "notification without UnsubscribeURL"

    def render(self, unsubscribe: str) -> str:
        return self.head + _UNSUBSCRIBE_LINE + _scalar(unsubscribe) + self.tail
