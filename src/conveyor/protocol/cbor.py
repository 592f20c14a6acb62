"""CBOR (RFC 8949), the subset the Smithy RPC v2 CBOR protocol uses: integers, byte and text strings
(definite and indefinite length), arrays, maps, tag 1 (epoch-seconds timestamps), false/true/null/
undefined and half, single and double floats.

https://smithy.io/2.0/additional-specs/protocols/smithy-rpc-v2.html#shape-serialization
"""

from __future__ import annotations

import datetime as dt
import math
import struct
from dataclasses import dataclass
from typing import Any

_BREAK = 0xFF
MAX_DEPTH = 100


class CborError(ValueError):
    """The bytes are not well-formed CBOR (or use what the protocol does not)."""


@dataclass(frozen=True)
class EpochMillis:
    """A timestamp as AWS's older CBOR protocol (application/x-amz-cbor-1.1, Kinesis) writes it: tag 1
    holding integer milliseconds rather than RFC 8949's seconds (see aws/aws-sdk-java-v2 issue 4661)."""

    value: int


# -- encoding ----------------------------------------------------------------------------------------
def _head(out: bytearray, major: int, value: int) -> None:
    if value < 24:
        out.append(major << 5 | value)
    elif value < 0x100:
        out += bytes((major << 5 | 24, value))
    elif value < 0x10000:
        out.append(major << 5 | 25)
        out += value.to_bytes(2, "big")
    elif value < 0x100000000:
        out.append(major << 5 | 26)
        out += value.to_bytes(4, "big")
    else:
        out.append(major << 5 | 27)
        out += value.to_bytes(8, "big")


def encode(value: Any) -> bytes:
    out = bytearray()
    _encode(out, value)
    return bytes(out)


def _encode(out: bytearray, value: Any) -> None:
    if value is None:
        out.append(0xF6)
    elif value is True:
        out.append(0xF5)
    elif value is False:
        out.append(0xF4)
    elif isinstance(value, int):
        if value >= 0:
            _head(out, 0, value)
        else:
            _head(out, 1, -1 - value)
    elif isinstance(value, float):
        _float(out, value)
    elif isinstance(value, str):
        data = value.encode()
        _head(out, 3, len(data))
        out += data
    elif isinstance(value, bytes | bytearray):
        _head(out, 2, len(value))
        out += value
    elif isinstance(value, EpochMillis):
        out.append(0xC1)
        _head(out, 0, value.value)
    elif isinstance(value, dt.datetime):
        out.append(0xC1)  # tag 1: seconds since the epoch
        _float(out, value.timestamp())
    elif isinstance(value, list | tuple):
        _head(out, 4, len(value))
        for item in value:
            _encode(out, item)
    elif isinstance(value, dict):
        _head(out, 5, len(value))
        for key, item in value.items():
            _encode(out, key)
            _encode(out, item)
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as CBOR")


def _float(out: bytearray, value: float) -> None:
    if math.isnan(value):
        out += b"\xf9\x7e\x00"
    elif math.isinf(value):
        out += b"\xf9\x7c\x00" if value > 0 else b"\xf9\xfc\x00"
    else:
        out.append(0xFB)
        out += struct.pack(">d", value)


# -- decoding ----------------------------------------------------------------------------------------
def decode(data: bytes, *, epoch_millis: bool = False) -> Any:
    """The data item; tag 1 counts milliseconds when `epoch_millis` (AWS's CBOR 1.1), else seconds."""
    reader = _Reader(data)
    reader.scale = 1000.0 if epoch_millis else 1.0
    value = reader.item(0)
    if reader.at != len(data):
        raise CborError("trailing bytes after the CBOR data item")
    return value


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0
        self.scale = 1.0  # what tag 1's number counts per second

    def _take(self, count: int) -> bytes:
        end = self.at + count
        if end > len(self.data):
            raise CborError("the CBOR data ends too early")
        chunk = self.data[self.at:end]
        self.at = end
        return chunk

    def _argument(self, info: int) -> int:
        if info < 24:
            return info
        if info in (24, 25, 26, 27):
            return int.from_bytes(self._take(1 << (info - 24)), "big")
        raise CborError(f"invalid additional information {info}")

    def _at_break(self) -> bool:
        if self.at < len(self.data) and self.data[self.at] == _BREAK:
            self.at += 1
            return True
        return False

    def item(self, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise CborError("CBOR data nested too deeply")
        initial = self._take(1)[0]
        major, info = initial >> 5, initial & 0x1F
        if major == 0:
            return self._argument(info)
        if major == 1:
            return -1 - self._argument(info)
        if major in (2, 3):
            raw = self._string(major, info)
            if major == 2:
                return raw
            try:
                return raw.decode()
            except UnicodeDecodeError:
                raise CborError("a CBOR text string is not UTF-8")
        if major == 4:
            if info == 31:
                items = []
                while not self._at_break():
                    items.append(self.item(depth + 1))
                return items
            return [self.item(depth + 1) for _ in range(self._argument(info))]
        if major == 5:
            mapping: dict[Any, Any] = {}
            if info == 31:
                while not self._at_break():
                    self._pair(mapping, depth)
            else:
                for _ in range(self._argument(info)):
                    self._pair(mapping, depth)
            return mapping
        if major == 6:
            tag = self._argument(info)
            value = self.item(depth + 1)
            if tag != 1:
                raise CborError(f"CBOR tag {tag} is not used by this protocol")
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise CborError("a timestamp (tag 1) must be a number")
            try:
                return dt.datetime.fromtimestamp(value / self.scale, dt.UTC)
            except (OverflowError, OSError, ValueError):
                raise CborError(f"timestamp {value} is out of range")
        return self._simple(info)

    def _pair(self, mapping: dict[Any, Any], depth: int) -> None:
        key = self.item(depth + 1)
        if not isinstance(key, str):
            raise CborError("map keys must be text strings")
        mapping[key] = self.item(depth + 1)

    def _string(self, major: int, info: int) -> bytes:
        if info != 31:
            return self._take(self._argument(info))
        chunks = []
        while not self._at_break():
            initial = self._take(1)[0]
            if initial >> 5 != major or initial & 0x1F == 31:
                raise CborError("an indefinite-length string holds a chunk of another type")
            chunks.append(self._take(self._argument(initial & 0x1F)))
        return b"".join(chunks)

    def _simple(self, info: int) -> Any:
        if info == 20:
            return False
        if info == 21:
            return True
        if info in (22, 23):
            return None
        if info == 25:
            return float(struct.unpack(">e", self._take(2))[0])
        if info == 26:
            return float(struct.unpack(">f", self._take(4))[0])
        if info == 27:
            return float(struct.unpack(">d", self._take(8))[0])
        raise CborError(f"unsupported CBOR simple value {info}")
