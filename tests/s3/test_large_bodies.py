"""Bodies of several flush batches: hashed and written one batch behind the socket, still exact.

The blob store hands each ~1 MiB batch to a worker thread while the event loop gathers the next one;
these tests hold the result to what a client checks (ETag = MD5, the checksums S3 reports, the bytes
read back) and hold a broken upload to leaving nothing behind.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from awscrt import checksums as crt
from botocore.exceptions import ClientError

MiB = 1024 * 1024


def test_a_multi_batch_put_reads_back_with_its_md5_and_checksums(s3: Any, bucket: str) -> None:
    body = os.urandom(5 * MiB + 12_345)  # batches of uneven socket chunks, and a tail
    put = s3.put_object(Bucket=bucket, Key="big", Body=body, ChecksumAlgorithm="SHA256")
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    assert put["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(body).digest()).decode()
    got = s3.get_object(Bucket=bucket, Key="big", ChecksumMode="ENABLED")
    assert got["Body"].read() == body
    assert got["ChecksumSHA256"] == put["ChecksumSHA256"]

    # The CRCs run in the same worker thread, batch after batch.
    s3.put_object(Bucket=bucket, Key="plain", Body=body, ChecksumAlgorithm="CRC64NVME")
    head = s3.head_object(Bucket=bucket, Key="plain", ChecksumMode="ENABLED")
    crc = crt.crc64nvme(body, 0).to_bytes(8, "big")
    assert head["ChecksumCRC64NVME"] == base64.b64encode(crc).decode()
    assert head["ETag"] == f'"{hashlib.md5(body).hexdigest()}"' and head["ContentLength"] == len(body)


def _raw_put_cut_off(endpoint: str, path: str, declared: int, sent: int, tmp: Path) -> None:
    """Sends `sent` bytes of a `declared`-byte body, waits until the body is being written to a
    temporary file, then disconnects."""
    host, port = endpoint.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        head = (f"PUT {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: {declared}\r\n"
                "Authorization: AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/s3/aws4_request, "
                "SignedHeaders=host, Signature=0000\r\nx-amz-content-sha256: UNSIGNED-PAYLOAD\r\n"
                "x-amz-date: 20250101T000000Z\r\n\r\n")
        sock.sendall(head.encode())
        chunk = os.urandom(256 * 1024)
        for _ in range(sent // len(chunk)):
            sock.sendall(chunk)
        _wait_for(lambda: any(tmp.iterdir()))


def _wait_for(condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)  # the server works on its own schedule

def test_a_client_gone_mid_upload_leaves_no_file_and_no_object(start_server: Any, tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    s3 = server.client("s3")
    s3.create_bucket(Bucket="cut")
    # 3 MiB of 20: batches were handed to the worker thread (one may be in flight) when it goes.
    tmp = tmp_path / "data" / "s3" / "blobs" / "tmp"
    _raw_put_cut_off(server.endpoint, "/cut/partial", 20 * MiB, 3 * MiB, tmp)
    _wait_for(lambda: not any(tmp.iterdir()))
    assert not any(tmp.iterdir())
    with pytest.raises(ClientError) as err:
        s3.head_object(Bucket="cut", Key="partial")
    assert err.value.response["Error"]["Code"] == "404"
    blobs = tmp_path / "data" / "s3" / "blobs"
    assert not [p for p in blobs.rglob("*") if p.is_file()]
