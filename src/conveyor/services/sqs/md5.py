"""The MD5 digests SQS returns, computed the way AWS (and the SDKs that verify them) do.

Attributes are hashed in name order, each as length-prefixed fields (4-byte big-endian length):
name, data type, one transport byte (1 string, 2 binary, 3 string list, 4 binary list) and the value.
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-metadata.html#sqs-attributes-md5-message-digest-calculation
"""

from __future__ import annotations

import hashlib
import struct
from typing import Any


def _field(out: bytearray, data: bytes) -> None:
    out += struct.pack(">I", len(data))
    out += data


def md5_of_attributes(attributes: dict[str, dict[str, Any]] | None) -> str | None:
    if not attributes:
        return None
    out = bytearray()
    for name in sorted(attributes):
        value = attributes[name]
        _field(out, name.encode("utf-8"))
        _field(out, value["DataType"].encode("utf-8"))
        if value.get("StringValue") is not None:
            out.append(1)
            _field(out, value["StringValue"].encode("utf-8"))
        elif value.get("BinaryValue") is not None:
            out.append(2)
            _field(out, bytes(value["BinaryValue"]))
        elif value.get("StringListValues"):
            out.append(3)
            for item in value["StringListValues"]:
                _field(out, item.encode("utf-8"))
        elif value.get("BinaryListValues"):
            out.append(4)
            for item in value["BinaryListValues"]:
                _field(out, bytes(item))
    return hashlib.md5(bytes(out)).hexdigest()
