"""Bodies of several flush batches: hashed and written in parallel lanes behind the socket, still exact.

The blob store hands each ~1 MiB batch to lanes on worker threads (MD5; the file with the hardware CRCs;
each costlier checksum) while the event loop reads the next one; these tests hold the result to what a
client checks (ETag = MD5, the checksums S3 reports, the bytes read back) and hold a broken upload to
leaving nothing behind.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from awscrt import checksums as crt
from botocore.exceptions import ClientError

MiB = 1024 * 1024
# A request as the test credentials sign it (signatures are not checked on loopback by default).
_AUTH = ("Authorization: AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/s3/aws4_request, "
         "SignedHeaders=host, Signature=0000\r\nx-amz-content-sha256: UNSIGNED-PAYLOAD\r\n"
         "x-amz-date: 20250101T000000Z\r\n")


def test_a_multi_batch_put_reads_back_with_its_md5_and_checksums(s3: Any, bucket: str) -> None:
    body = os.urandom(5 * MiB + 12_345)  # batches of uneven socket chunks, and a tail
    put = s3.put_object(Bucket=bucket, Key="big", Body=body, ChecksumAlgorithm="SHA256")
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    assert put["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(body).digest()).decode()
    got = s3.get_object(Bucket=bucket, Key="big", ChecksumMode="ENABLED")
    assert got["Body"].read() == body
    assert got["ChecksumSHA256"] == put["ChecksumSHA256"]

    # Read back one buffer ahead: a range across several buffers, and one ending inside the first.
    ranged = s3.get_object(Bucket=bucket, Key="big", Range=f"bytes=100-{3 * MiB + 6}")
    assert ranged["Body"].read() == body[100:3 * MiB + 7]
    assert s3.get_object(Bucket=bucket, Key="big", Range="bytes=-5")["Body"].read() == body[-5:]

    # The CRCs run in the same worker thread, batch after batch.
    s3.put_object(Bucket=bucket, Key="plain", Body=body, ChecksumAlgorithm="CRC64NVME")
    head = s3.head_object(Bucket=bucket, Key="plain", ChecksumMode="ENABLED")
    crc = crt.crc64nvme(body, 0).to_bytes(8, "big")
    assert head["ChecksumCRC64NVME"] == base64.b64encode(crc).decode()
    assert head["ETag"] == f'"{hashlib.md5(body).hexdigest()}"' and head["ContentLength"] == len(body)


def checksum_of(algorithm: str, body: bytes) -> str:
    """The base64 checksum S3 shows for `body` under `algorithm`, computed here independently of the server."""
    digest = {"CRC32": lambda: crt.crc32(body, 0).to_bytes(4, "big"),
              "CRC32C": lambda: crt.crc32c(body, 0).to_bytes(4, "big"),
              "CRC64NVME": lambda: crt.crc64nvme(body, 0).to_bytes(8, "big"),
              "SHA1": lambda: hashlib.sha1(body).digest(),
              "SHA256": lambda: hashlib.sha256(body).digest()}[algorithm]()
    return base64.b64encode(digest).decode()


def test_concurrent_large_puts_each_get_their_own_hashes(s3: Any, bucket: str) -> None:
    # Four uploads at once, each with a checksum in a lane of its own or in the write lane, sharing the
    # lanes' threads: no batch of one may reach another's hashes or file.
    algorithms = ["CRC32", "SHA1", "CRC32C", "SHA256"]
    bodies = {algo: os.urandom(3 * MiB + 1000 * i) for i, algo in enumerate(algorithms)}

    def put(algo: str) -> dict[str, Any]:
        return s3.put_object(Bucket=bucket, Key=algo, Body=bodies[algo], ChecksumAlgorithm=algo)  # type: ignore[no-any-return]

    with ThreadPoolExecutor(len(algorithms)) as pool:
        answers = dict(zip(algorithms, pool.map(put, algorithms), strict=True))
    for algo, body in bodies.items():
        assert answers[algo]["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
        member = f"Checksum{algo}"
        assert answers[algo][member] == checksum_of(algo, body)
        got = s3.get_object(Bucket=bucket, Key=algo, ChecksumMode="ENABLED")
        assert got["Body"].read() == body and got[member] == answers[algo][member]


def test_a_large_part_is_hashed_in_lanes_like_an_object(s3: Any, bucket: str) -> None:
    body = os.urandom(5 * MiB + 7)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="parted", ChecksumAlgorithm="CRC32")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="parted", UploadId=upload, PartNumber=1, Body=body,
                          ChecksumAlgorithm="CRC32")
    assert part["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    assert part["ChecksumCRC32"] == checksum_of("CRC32", body)
    s3.complete_multipart_upload(Bucket=bucket, Key="parted", UploadId=upload, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": part["ETag"], "ChecksumCRC32": part["ChecksumCRC32"]}]})
    assert s3.get_object(Bucket=bucket, Key="parted")["Body"].read() == body


def test_completed_parts_are_joined_exactly_and_leave_only_the_object(start_server: Any, tmp_path: Path) -> None:
    # Completing copies the parts end to end (in the kernel where it can), without hashing them again:
    # the ETag and the checksum come from the parts'.
    server = start_server(tmp_path / "data")
    s3 = server.client("s3")
    s3.create_bucket(Bucket="joined")
    parts = [os.urandom(5 * MiB + 3), os.urandom(5 * MiB), os.urandom(1234)]
    upload = s3.create_multipart_upload(Bucket="joined", Key="k", ChecksumAlgorithm="CRC64NVME",
                                        ChecksumType="FULL_OBJECT")["UploadId"]
    done = [{"PartNumber": n, "ETag": s3.upload_part(Bucket="joined", Key="k", UploadId=upload, PartNumber=n,
                                                     Body=body, ChecksumAlgorithm="CRC64NVME")["ETag"]}
            for n, body in enumerate(parts, 1)]
    out = s3.complete_multipart_upload(Bucket="joined", Key="k", UploadId=upload, MultipartUpload={"Parts": done})
    whole = b"".join(parts)
    md5s = b"".join(hashlib.md5(p).digest() for p in parts)
    assert out["ETag"] == f'"{hashlib.md5(md5s).hexdigest()}-3"'
    assert out["ChecksumCRC64NVME"] == checksum_of("CRC64NVME", whole)
    got = s3.get_object(Bucket="joined", Key="k")
    assert got["ContentLength"] == len(whole) and got["Body"].read() == whole
    blobs = tmp_path / "data" / "s3" / "blobs"
    files = [p for p in blobs.rglob("*") if p.is_file()]
    assert len(files) == 1 and files[0].stat().st_size == len(whole)  # the parts' files are freed


def test_a_large_body_refused_after_hashing_leaves_nothing(start_server: Any, tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    s3 = server.client("s3")
    s3.create_bucket(Bucket="refused")
    body = os.urandom(4 * MiB)
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket="refused", Key="k", Body=body, ContentMD5=wrong)
    assert err.value.response["Error"]["Code"] == "BadDigest"
    blobs = tmp_path / "data" / "s3" / "blobs"
    assert not [p for p in blobs.rglob("*") if p.is_file()]


def test_a_client_gone_mid_get_leaves_the_server_serving(endpoint: str, s3: Any, bucket: str) -> None:
    body = os.urandom(6 * MiB)
    s3.put_object(Bucket=bucket, Key="big", Body=body)
    host, port = endpoint.removeprefix("http://").split(":")
    for _ in range(3):  # the read ahead in flight when the client goes is waited for, the file closed
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(f"GET /{bucket}/big HTTP/1.1\r\nHost: {host}:{port}\r\n{_AUTH}\r\n".encode())
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
    assert s3.get_object(Bucket=bucket, Key="big")["Body"].read() == body


def _raw_put_cut_off(endpoint: str, path: str, declared: int, sent: int, tmp: Path) -> None:
    """Sends `sent` bytes of a `declared`-byte body, waits until the body is being written to a
    temporary file, then disconnects."""
    host, port = endpoint.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        head = (f"PUT {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: {declared}\r\n"
                f"{_AUTH}\r\n")
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
