"""How fast S3's checksums run, in MB/s, as S3 computes them while a body streams (1 MiB buffers).

    PYTHONPATH=src python benchmarks/checksums.py [--mib 64]

One line per algorithm of conveyor.services.s3.checksums (CRC32, CRC32C, CRC64NVME, SHA1, SHA256) and
MD5 (every object's ETag). Bounded: each algorithm hashes --mib MiB once (4 MiB is enough for a slow one).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import time

from conveyor.services.s3 import checksums


def rate(factory: object, data: bytes, total: int) -> float:
    hasher = factory()  # type: ignore[operator]
    start = time.perf_counter()
    for _ in range(total // len(data)):
        hasher.update(data)
    hasher.digest()
    return total / (time.perf_counter() - start) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=64)
    args = parser.parse_args()
    data = os.urandom(1 << 20)
    total = args.mib << 20
    for name, factory in [("MD5", hashlib.md5), *checksums.ALGORITHMS.items()]:
        # A pure-Python CRC runs at a few MB/s: a few MiB tell its speed without a minute's wait.
        probe = rate(factory, data, 1 << 20)
        size = total if probe > 50 else min(total, 4 << 20)
        print(f"{name:10} {rate(factory, data, size):10.1f} MB/s")


if __name__ == "__main__":
    main()
