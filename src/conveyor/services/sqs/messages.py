"""Validation of what a sender gives SQS: bodies, message attributes, system attributes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from conveyor.services.sqs.errors import invalid_param, missing_param, sqs_error
from conveyor.services.sqs.queue import AttributeMap

# Attributes as a sender gives them: name -> {"DataType", "StringValue" | "BinaryValue" | lists}.
GivenAttributes = Mapping[str, Mapping[str, Any]]
# System attributes as the model types them (AWSTraceHeader is the only one), or as stored.
GivenSystemAttributes = Mapping[Literal["AWSTraceHeader"], Mapping[str, Any]] | GivenAttributes

_BAD_CHARS = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ATTR_NAME = re.compile(r"[A-Za-z0-9_\-.]{1,256}")
_TYPE = re.compile(r"(String|Number|Binary)(\.[^\s]{1,})?")


def checked_body(body: str) -> bytes:
    """A valid body's UTF-8 bytes (what its size and MD5 are taken of)."""
    if not body:
        # MissingParameter, as AWS answers an empty body (an empty string is no body at all).
        raise missing_param("MessageBody")
    # (Printable ASCII, most bodies, is valid: the scan for what is not runs only on the others.)
    if not (body.isascii() and body.isprintable()) and _BAD_CHARS.search(body):
        raise sqs_error(
            "InvalidMessageContents",
            "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | "
            "#xE000 to #xFFFD | #x10000 to #x10FFFF",
        )
    return body.encode("utf-8")  # (no lone surrogate gets here: the scan refuses them)


def body_size(body: str) -> int:
    """The bytes a body counts for against a batch's limit (checked before its characters are)."""
    return len(body) if body.isascii() else len(body.encode("utf-8", "surrogatepass"))


def check_size(total: int, max_size: int) -> None:
    if total > max_size:
        raise invalid_param(
            f"One or more parameters are invalid. Reason: Message must be shorter than {max_size} bytes."
        )


# Attribute names and data types found valid, with what they count for against the size limit: an
# application sends the same few with every message, and checking them again each time was most of the
# cost of a message's attributes. Bounded: a sender making up names per message fills the table, then
# gets its names checked every time, as before.
_KEPT_CHECKS = 4096
_valid_names: dict[str, int] = {}  # name -> its UTF-8 length
_valid_types: dict[str, tuple[str, int]] = {}  # data type -> (its base type, its UTF-8 length)


def check_attributes(attrs: GivenAttributes | None) -> int:
    """Validate user message attributes; returns their size as AWS counts it."""
    if not attrs:
        return 0
    if len(attrs) > 10:
        raise invalid_param(f"Number of message attributes [{len(attrs)}] exceeds the allowed maximum [10].")
    size = 0
    for name, value in attrs.items():
        name_size = _valid_names.get(name)
        if name_size is None:
            name_size = _check_attribute_name(name)
            if len(_valid_names) < _KEPT_CHECKS:
                _valid_names[name] = name_size
        dtype = value.get("DataType") or ""
        known = _valid_types.get(dtype)
        if known is None:
            if not _TYPE.fullmatch(dtype) or len(dtype) > 256:
                raise invalid_param(
                    f"The type of message (user) attribute '{name}' is invalid. You must use only the "
                    "following supported type prefixes: Binary, Number, String."
                )
            known = (dtype.split(".", 1)[0], len(dtype.encode("utf-8")))
            if len(_valid_types) < _KEPT_CHECKS:
                _valid_types[dtype] = known
        base, type_size = known
        if value.get("StringListValues") or value.get("BinaryListValues"):
            raise sqs_error("UnsupportedOperation", "Message attribute list values in SendMessage operation "
                            "are not supported.")
        if base == "Binary":
            data = value.get("BinaryValue")
            if not data:
                raise invalid_param(f"Message (user) attribute '{name}' must contain a non-empty value of type "
                                    f"'{base}'.")
            if value.get("StringValue") is not None:
                raise invalid_param(f"The message attribute '{name}' with type 'Binary' must use field "
                                    "'Binary'.")
            size += len(data)
        else:
            text = value.get("StringValue")
            if text is None or text == "":
                raise invalid_param(f"Message (user) attribute '{name}' must contain a non-empty value of type "
                                    f"'{base}'.")
            if value.get("BinaryValue") is not None:
                raise invalid_param(f"The message attribute '{name}' with type '{base}' must use field "
                                    "'String'.")
            # (Printable ASCII is valid: the scan for what is not runs only on the others.)
            if text.isascii():
                if not text.isprintable() and _BAD_CHARS.search(text):
                    raise sqs_error("InvalidMessageContents", f"The message attribute '{name}' contains "
                                    "invalid characters.")
                size += len(text)
            else:
                if _BAD_CHARS.search(text):
                    raise sqs_error("InvalidMessageContents", f"The message attribute '{name}' contains "
                                    "invalid characters.")
                size += len(text.encode("utf-8"))
            if base == "Number":
                try:
                    Decimal(text)
                except InvalidOperation:
                    raise invalid_param(f"Could not cast message attribute '{name}' value to number.")
        size += name_size + type_size
    return size


def _check_attribute_name(name: str) -> int:
    """Names as the developer guide allows them (letters, digits, _ - ., up to 256 characters, no AWS. or
    Amazon. prefix, no leading, trailing or doubled period), refused with AWS's messages, whose odd wording
    ("upper and lower score", the trailing space) is AWS's own; a valid name's UTF-8 length.
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-metadata.html"""
    size = len(name.encode("utf-8"))
    if size > 256:
        raise invalid_param("Message (user) attribute names must be shorter than 256 Bytes")
    if not _ATTR_NAME.fullmatch(name) or ".." in name:
        raise invalid_param("Message (user) attributes name can only contain upper and lower score characters, "
                            "digits, periods, hyphens and underscores. ")
    low = name.lower()
    if low.startswith("aws.") or low.startswith("amazon.") or name.startswith(".") or name.endswith("."):
        raise invalid_param("You can't use message attribute names beginning with 'AWS.' or 'Amazon.'. These "
                            "strings are reserved for internal use. Additionally, they cannot start or end with "
                            "'.'.")
    return size


def check_system_attributes(attrs: GivenSystemAttributes | None) -> None:
    if not attrs:
        return
    for name, value in attrs.items():
        if name != "AWSTraceHeader":
            raise invalid_param(f"Message system attribute name '{name}' is invalid.")
        if value.get("DataType") != "String" or not value.get("StringValue"):
            raise invalid_param("The message system attribute 'AWSTraceHeader' must be of type String "
                                "with a non-empty value.")


def clean_attrs(attrs: GivenAttributes | GivenSystemAttributes | None) -> AttributeMap | None:
    """What is kept of valid attributes: type and value (bytes for binary ones)."""
    if not attrs:
        return None
    out: AttributeMap = {}
    for name, value in attrs.items():
        item: dict[str, Any] = {"DataType": value["DataType"]}
        if value.get("StringValue") is not None:
            item["StringValue"] = value["StringValue"]
        if value.get("BinaryValue") is not None:
            item["BinaryValue"] = bytes(value["BinaryValue"])
        out[name] = item
    return out
