"""HTTP/1.1 on the wire, with raw sockets: what clients other than the SDKs may send."""

from __future__ import annotations

import socket
from urllib.parse import urlparse

import pytest


def _exchange(endpoint: str, data: bytes, timeout: float = 2.0) -> bytes:
    """Send `data`, then read until the server closes or stays quiet for `timeout` seconds."""
    u = urlparse(endpoint)
    with socket.create_connection((u.hostname, u.port), timeout=timeout) as sock:
        sock.sendall(data)
        out = b""
        try:
            while chunk := sock.recv(65536):
                out += chunk
        except TimeoutError:
            pass
    return out


def _sqs(target: str, body: bytes, extra: bytes = b"") -> bytes:
    return (f"POST / HTTP/1.1\r\nHost: localhost\r\nX-Amz-Target: AmazonSQS.{target}\r\n"
            f"Content-Type: application/x-amz-json-1.0\r\nContent-Length: {len(body)}\r\n").encode() + extra + \
        b"\r\n" + body


def _signed_put(path: str, length: int, extra: bytes = b"") -> bytes:
    """The head of an S3 PUT behind `Expect: 100-continue`, with a well-formed SigV4 header (auth is off)."""
    return (f"PUT {path} HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: {length}\r\n"
            "x-amz-content-sha256: UNSIGNED-PAYLOAD\r\nx-amz-date: 20250101T000000Z\r\n"
            "Authorization: AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/s3/aws4_request, "
            "SignedHeaders=host, Signature=00\r\n").encode() + extra + b"\r\n"


def test_pipelined_requests_are_answered_in_order(endpoint: str) -> None:
    names = [b"pipe-a", b"pipe-b", b"pipe-c"]
    close = b"Connection: close\r\n"  # on the last one, so the exchange ends when the answers do
    out = _exchange(endpoint, b"".join(_sqs("CreateQueue", b'{"QueueName":"%s"}' % n, close if n == names[-1] else b"")
                                       for n in names))
    assert out.count(b"HTTP/1.1 200 OK") == 3
    assert out.index(b"pipe-a") < out.index(b"pipe-b") < out.index(b"pipe-c")


def test_chunked_request_body(endpoint: str) -> None:
    body = b'{"QueueName":"chunky"}'
    request = (b"POST / HTTP/1.1\r\nHost: localhost\r\nX-Amz-Target: AmazonSQS.CreateQueue\r\n"
               b"Content-Type: application/x-amz-json-1.0\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
               b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (5, body[:5], len(body) - 5, body[5:]))
    out = _exchange(endpoint, request)
    assert out.startswith(b"HTTP/1.1 200 OK") and b"/chunky" in out


@pytest.mark.parametrize(("request_bytes", "status"), [
    (b"NOT HTTP AT ALL\r\n\r\n", b"400"),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX-Huge: " + b"a" * 70_000 + b"\r\n\r\n", b"431"),
    (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n", b"400"),
])
def test_broken_requests_get_a_status_and_a_closed_connection(endpoint: str, request_bytes: bytes,
                                                              status: bytes) -> None:
    out = _exchange(endpoint, request_bytes)
    assert out.startswith(b"HTTP/1.1 " + status) and b"connection: close" in out.lower()
    still = _exchange(endpoint, _sqs("ListQueues", b"{}", b"Connection: close\r\n"))
    assert still.startswith(b"HTTP/1.1 200")  # still serving


def test_refusal_does_not_ask_for_a_body_behind_100_continue(endpoint: str) -> None:
    """A refused upload is answered without "100 Continue": the client never sends the body."""
    out = _exchange(endpoint, b"PUT /no-such-bucket-here/key HTTP/1.1\r\nHost: localhost\r\n"
                              b"Expect: 100-continue\r\nContent-Length: 1000000\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 404") and b"NoSuchBucket" in out and b"100 Continue" not in out


def test_accepted_upload_behind_100_continue(endpoint: str, client) -> None:
    client("s3").create_bucket(Bucket="continue-bucket")
    u = urlparse(endpoint)
    with socket.create_connection((u.hostname, u.port), timeout=5) as sock:
        sock.sendall(_signed_put("/continue-bucket/key", 5))
        assert sock.recv(1024) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"hello")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200 OK")
    assert client("s3").get_object(Bucket="continue-bucket", Key="key")["Body"].read() == b"hello"


def test_empty_body_behind_100_continue_still_gets_the_interim_answer(endpoint: str, client) -> None:
    """botocore sends `Expect: 100-continue` even with an empty body, and takes a final status that
    arrives without "100 Continue" first as the answer to its next request on the connection."""
    client("s3").create_bucket(Bucket="empty-continue")
    u = urlparse(endpoint)
    with socket.create_connection((u.hostname, u.port), timeout=5) as sock:
        sock.sendall(_signed_put("/empty-continue/key", 0, b"Connection: close\r\n"))
        out = b""
        while chunk := sock.recv(4096):
            out += chunk
    assert out.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK")
