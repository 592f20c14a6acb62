"""Checksums S3 computes while a body streams: MD5 (the ETag) and the x-amz-checksum-* algorithms."""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Callable
from typing import Protocol


class Hasher(Protocol):
    """A running checksum: hashlib's objects and the CRCs below."""

    def update(self, data: bytes, /) -> None: ...

    def digest(self) -> bytes: ...


def _make_crc_table(poly: int, width: int) -> list[int]:
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
        table.append(crc & ((1 << width) - 1))
    return table


class _TableCrc:
    """Reflected table-driven CRC in pure Python (CRC32C, CRC64NVME): correct, not fast."""

    poly = 0
    width = 32
    _table: list[int] | None = None

    def __init__(self) -> None:
        cls = type(self)
        if cls._table is None:
            cls._table = _make_crc_table(cls.poly, cls.width)
        self._mask = (1 << self.width) - 1
        self._crc = self._mask

    def update(self, data: bytes) -> None:
        crc, table = self._crc, self._table
        assert table is not None
        for byte in data:
            crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
        self._crc = crc

    def digest(self) -> bytes:
        return (self._crc ^ self._mask).to_bytes(self.width // 8, "big")


class Crc32C(_TableCrc):
    poly = 0x82F63B78
    width = 32
    _table = None


class Crc64Nvme(_TableCrc):
    poly = 0x9A6C9329AC4BC9B5
    width = 64
    _table = None


class Crc32:
    def __init__(self) -> None:
        self._crc = 0

    def update(self, data: bytes) -> None:
        self._crc = zlib.crc32(data, self._crc)

    def digest(self) -> bytes:
        return self._crc.to_bytes(4, "big")


ALGORITHMS: dict[str, Callable[[], Hasher]] = {
    "CRC32": Crc32,
    "CRC32C": Crc32C,
    "CRC64NVME": Crc64Nvme,
    "SHA1": hashlib.sha1,
    "SHA256": hashlib.sha256,
}


def new(algorithm: str) -> Hasher | None:
    factory = ALGORITHMS.get(algorithm.upper())
    return factory() if factory else None


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def header_for(algorithm: str) -> str:
    return f"x-amz-checksum-{algorithm.lower()}"
