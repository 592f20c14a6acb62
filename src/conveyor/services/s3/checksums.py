"""Checksums S3 computes while a body streams: MD5 (the ETag) and the x-amz-checksum-* algorithms."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Protocol

from awscrt import checksums

# The checksum S3 gives an object uploaded without one, as a full-object checksum.
DEFAULT = "CRC64NVME"


class Hasher(Protocol):
    """A running checksum: hashlib's objects and the CRCs below."""

    def update(self, data: bytes | memoryview, /) -> None: ...

    def digest(self) -> bytes: ...


class _Crc:
    """A running CRC of awscrt (the AWS Common Runtime botocore itself uses for these checksums): native
    code, at memory speed, where a table-driven CRC in pure Python runs at a few MB/s."""

    width = 4
    _update: Callable[[bytes | memoryview, int], int] = staticmethod(checksums.crc32)

    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes | memoryview) -> None:
        self.value = type(self)._update(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(self.width, "big")


class Crc32(_Crc):
    pass


class Crc32C(_Crc):
    _update = staticmethod(checksums.crc32c)


class Crc64Nvme(_Crc):
    width = 8
    _update = staticmethod(checksums.crc64nvme)


# How two CRCs of consecutive bytes make the CRC of both: S3's full-object checksum of a multipart
# upload, from its parts' CRCs (https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html).
_COMBINE: dict[str, Callable[[int, int, int], int]] = {
    "CRC32": checksums.combine_crc32, "CRC32C": checksums.combine_crc32c, "CRC64NVME": checksums.combine_crc64nvme,
}
FULL_OBJECT_ALGORITHMS = frozenset(_COMBINE)


def combine(algorithm: str, parts: list[tuple[str, int]]) -> str:
    """The full-object CRC (base64) of the parts' CRCs (base64) and sizes, in order."""
    join = _COMBINE[algorithm]
    total = 0
    for value, size in parts:
        total = join(total, int.from_bytes(base64.b64decode(value), "big"), size)
    width = 8 if algorithm == "CRC64NVME" else 4
    return b64(total.to_bytes(width, "big"))


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
