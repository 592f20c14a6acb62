"""Bodies small enough to be kept in the object's row: hashed on the event loop in slices (so that the
hash keeps the GIL), still exact at and around the slices' edges."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import pytest
from tests.s3.test_large_bodies import checksum_of

SIZES = [0, 1, 2046, 2047, 2048, 4094, 4095, 4096, 64 * 1024]


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"])
def test_small_bodies_have_their_md5_and_checksums(s3: Any, bucket: str, algorithm: str) -> None:
    for size in SIZES:
        body = os.urandom(size)
        put = s3.put_object(Bucket=bucket, Key=f"k{size}", Body=body, ChecksumAlgorithm=algorithm)
        assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"', size
        assert put[f"Checksum{algorithm}"] == checksum_of(algorithm, body), size
        got = s3.get_object(Bucket=bucket, Key=f"k{size}", ChecksumMode="ENABLED")
        assert got["Body"].read() == body and got[f"Checksum{algorithm}"] == put[f"Checksum{algorithm}"]

