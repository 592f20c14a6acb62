"""The MD5 digests SQS returns, computed the way AWS (and the SDKs that verify them) do.

Attributes are hashed in name order, each as length-prefixed fields (4-byte big-endian length):
name, data type, one transport byte (1 string, 2 binary, 3 string list, 4 binary list) and the value.
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-metadata.html#sqs-attributes-md5-message-digest-calculation
"""

from __future__ import annotations

import hashlib
from typing import Any

# What precedes an attribute's value in the digest (its name, its data type and the transport byte) is
# the same for every message an application sends with that attribute: it is encoded once and kept, up
# to _KEPT_PREFIXES of them (an application's attribute names are few; a sender making up names per
# message only fills the table and then encodes its own).
_KEPT_PREFIXES = 4096
_prefixes: dict[tuple[str, str, int], bytes] = {}
_NO_VALUE = 0  # (an attribute with no value at all: name and type only, no transport byte)


def _length(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big")


def _prefix(name: str, data_type: str, transport: int) -> bytes:
    key = (name, data_type, transport)
    found = _prefixes.get(key)
    if found is None:
        raw_name, raw_type = name.encode("utf-8"), data_type.encode("utf-8")
        found = _length(raw_name) + raw_name + _length(raw_type) + raw_type
        if transport != _NO_VALUE:
            found += bytes((transport,))
        if len(_prefixes) < _KEPT_PREFIXES:
            _prefixes[key] = found
    return found


def md5_of_attributes(attributes: dict[str, dict[str, Any]] | None) -> str | None:
    if not attributes:
        return None
    parts: list[bytes] = []
    for name in sorted(attributes):
        value = attributes[name]
        data_type = value["DataType"]
        if (text := value.get("StringValue")) is not None:
            data = text.encode("utf-8")
            parts += (_prefix(name, data_type, 1), _length(data), data)
        elif (blob := value.get("BinaryValue")) is not None:
            data = bytes(blob)
            parts += (_prefix(name, data_type, 2), _length(data), data)
        elif texts := value.get("StringListValues"):
            parts.append(_prefix(name, data_type, 3))
            for item in texts:
                data = item.encode("utf-8")
                parts += (_length(data), data)
        elif blobs := value.get("BinaryListValues"):
            parts.append(_prefix(name, data_type, 4))
            for item in blobs:
                data = bytes(item)
                parts += (_length(data), data)
        else:
            parts.append(_prefix(name, data_type, _NO_VALUE))
    return hashlib.md5(b"".join(parts)).hexdigest()
