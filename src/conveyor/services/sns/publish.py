"""Checking what a publisher sends (message, subject, structure, attributes, size and FIFO ids), and
what a publish becomes once checked.

https://docs.aws.amazon.com/sns/latest/api/API_Publish.html
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, NotRequired, TypedDict

from conveyor import jsondoc
from conveyor.services.sns.topics import Topic, invalid
from conveyor.wire import ServiceError

# Message attributes as SNS keeps them: name -> {"DataType", "StringValue" or "BinaryValue" (base64)}.
StoredAttributes = dict[str, dict[str, str]]


class Published(TypedDict):
    """One accepted publish, as delivery needs it; stored as JSON in the outbox until delivered."""

    id: str
    topic: str
    message: str  # the "default" text when MessageStructure=json
    ts: float
    base: str  # the URL clients reached SNS at, for the envelope's SigningCertURL and UnsubscribeURL
    sigv: str
    structure: NotRequired[dict[str, Any]]  # MessageStructure=json: protocol -> text
    subject: NotRequired[str]
    attrs: NotRequired[StoredAttributes]
    fifo: NotRequired[bool]
    group: NotRequired[str | None]
    dedup: NotRequired[str | None]
    seq: NotRequired[str]  # FIFO topics: the SequenceNumber


def message_for(msg: Published, protocol: str) -> str:
    """With MessageStructure=json each protocol may get its own text; "default" otherwise."""
    structure = msg.get("structure")
    if structure:
        return str(structure.get(protocol, structure["default"]))
    return msg["message"]

MAX_SIZE = 256 * 1024
_ATTR_NAME = re.compile(r"[A-Za-z0-9_\-.]{1,256}")
_TYPE = re.compile(r"(String|Number|Binary)(\.[^\s]+)?")
_ID = re.compile(r"[\x21-\x7e]{1,128}")


def attr_error(message: str) -> ServiceError:
    return ServiceError("ParameterValueInvalid", message)


def check_attributes(attrs: Mapping[str, Mapping[str, Any]] | None) -> tuple[StoredAttributes, int]:
    """Validated attributes in storable form (binary base64) and their size as AWS counts it."""
    out: StoredAttributes = {}
    size = 0
    for name, value in (attrs or {}).items():
        low = name.lower()
        if (not _ATTR_NAME.fullmatch(name) or name.startswith(".") or name.endswith(".") or ".." in name
                or low.startswith("aws.") or low.startswith("amazon.")):
            raise attr_error(f"The message attribute name '{name}' is invalid.")
        dtype = value.get("DataType") or ""
        if dtype != "String.Array" and not _TYPE.fullmatch(dtype):
            raise attr_error(f"The message attribute '{name}' has an invalid message attribute type, the set "
                             "of supported type prefixes is Binary, Number, and String.")
        base = dtype.split(".", 1)[0]
        if base == "Binary":
            data = value.get("BinaryValue")
            if not data:
                raise attr_error(f"The message attribute '{name}' must contain non-empty message attribute "
                                 f"value for message attribute type '{dtype}'.")
            out[name] = {"DataType": dtype, "BinaryValue": base64.b64encode(bytes(data)).decode()}
            size += len(data)
        else:
            text = value.get("StringValue")
            if text is None or text == "":
                raise attr_error(f"The message attribute '{name}' must contain non-empty message attribute "
                                 f"value for message attribute type '{base}'.")
            if base == "Number":
                try:
                    Decimal(text)
                except InvalidOperation:
                    raise attr_error(f"An error occurred while parsing the message attribute '{name}' "
                                     f"of type 'Number'. Please provide valid number value.")
            # A String.Array value is not checked at publish: AWS takes "100" or "one hundred" as well and
            # only filtering reads it (filter_policy.attributes_view).
            out[name] = {"DataType": dtype, "StringValue": text}
            size += len(text.encode())
        size += len(name.encode()) + len(dtype.encode())
    return out, size


def check_message(message: str | None, structure: str | None, needs_default: bool = True) -> dict[str, Any] | None:
    if message is None or message == "":
        raise invalid("Empty message")
    if structure is None:
        return None
    if structure != "json":
        raise invalid("MessageStructure")
    try:
        doc = jsondoc.loads(message)
    except ValueError:
        raise invalid("Message Structure - JSON message body failed to parse")
    if not isinstance(doc, dict):
        raise invalid("Message Structure - JSON message body failed to parse")
    if needs_default and not isinstance(doc.get("default"), str):
        raise invalid("Message Structure - No default entry in JSON message body")
    return doc


def check_subject(subject: str | None) -> None:
    if subject is None:
        return
    if not subject or len(subject) > 100 or not all(32 <= ord(c) < 127 for c in subject):
        raise invalid("Subject")


def check_size(message: str, attrs_size: int) -> None:
    if len(message.encode("utf-8")) + attrs_size > MAX_SIZE:
        raise invalid("Message too long")


def fifo_ids(topic: Topic, message: str, group_id: str | None, dedup_id: str | None) -> tuple[str | None, str | None]:
    if not topic.fifo:
        if dedup_id:
            raise invalid("MessageDeduplicationId Reason: The request includes MessageDeduplicationId "
                          "parameter that is not valid for this topic type")
        return group_id, None
    if not group_id:
        raise invalid("The MessageGroupId parameter is required for FIFO topics")
    if not _ID.fullmatch(group_id):
        raise invalid("MessageGroupId Reason: MessageGroupId can only include alphanumeric and punctuation "
                      "characters. 1 to 128 in length.")
    if not dedup_id:
        if not topic.content_dedup:
            raise invalid("The topic should either have ContentBasedDeduplication enabled or "
                          "MessageDeduplicationId provided explicitly")
        dedup_id = hashlib.sha256(message.encode("utf-8")).hexdigest()
    elif not _ID.fullmatch(dedup_id):
        raise invalid("MessageDeduplicationId Reason: MessageDeduplicationId can only include alphanumeric "
                      "and punctuation characters. 1 to 128 in length.")
    return group_id, dedup_id
