"""HTTP/1.1 on the wire, with raw sockets: what clients other than the SDKs may send."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from urllib.parse import urlparse

import boto3
import pytest
from botocore.exceptions import ClientError

from conveyor.app import App
from conveyor.config import Config
from conveyor.server import serve_in_thread
from tests.conftest import CREDENTIALS, post_json


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


# -- timeouts, hang-ups, upgrades and the connection limit -----------------------------------------------
READ_TIMEOUT, IDLE_TIMEOUT, MAX_CONNECTIONS = 0.5, 1.0, 8


@pytest.fixture(scope="module")
def tight(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server with short connection timeouts and a small connection limit (on the manual clock)."""
    config = Config(data_dir=tmp_path_factory.mktemp("tight"), port=0, clock="manual", auth="off",
                    read_timeout=READ_TIMEOUT, idle_timeout=IDLE_TIMEOUT, max_connections=MAX_CONNECTIONS)
    with serve_in_thread(App(config)) as url:
        yield url


def _connect(endpoint: str, timeout: float = 5.0) -> socket.socket:
    u = urlparse(endpoint)
    return socket.create_connection((u.hostname, u.port), timeout=timeout)


def _read_until_closed(sock: socket.socket) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and how long that took."""
    started, out = time.monotonic(), b""
    while chunk := sock.recv(65536):
        out += chunk
    return out, time.monotonic() - started


def _response(sock: socket.socket) -> bytes:
    """One whole response (head and Content-Length body) from a connection that stays open."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def test_half_a_request_head_is_timed_out(tight: str) -> None:
    with _connect(tight) as sock:
        sock.sendall(b"PUT /bucket/key HTTP/1.1\r\nHost: localhost\r\nContent-Le")
        out, took = _read_until_closed(sock)
    assert out == b"" and READ_TIMEOUT * 0.9 <= took < READ_TIMEOUT + 2


def test_a_body_shorter_than_its_content_length_gets_s3s_request_timeout(tight: str) -> None:
    s3 = boto3.client("s3", endpoint_url=tight, **CREDENTIALS)
    s3.create_bucket(Bucket="short-body")
    with _connect(tight) as sock:
        sock.sendall(_signed_put("/short-body/key", 100).replace(b"Expect: 100-continue\r\n", b"") + b"0123456789")
        out, took = _read_until_closed(sock)
    assert out.startswith(b"HTTP/1.1 400 ") and b"<Code>RequestTimeout</Code>" in out
    assert b"connection: close" in out.lower() and READ_TIMEOUT * 0.9 <= took < READ_TIMEOUT + 2
    with pytest.raises(ClientError, match="404"):
        s3.head_object(Bucket="short-body", Key="key")  # nothing half-written was kept


def test_a_short_json_body_times_out_in_its_protocols_shape(tight: str) -> None:
    with _connect(tight) as sock:
        sock.sendall(_sqs("CreateQueue", b'{"QueueName":"never"}')[:-5])
        out, _ = _read_until_closed(sock)
    assert out.startswith(b"HTTP/1.1 400 ") and b'#RequestTimeout"' in out


def test_a_slow_but_steady_body_is_not_timed_out(tight: str) -> None:
    """Only silence counts: a body trickling in for several read timeouts is still served."""
    body = b'{"QueueName":"trickled"}'
    with _connect(tight) as sock:
        sock.sendall(_sqs("CreateQueue", body, b"Connection: close\r\n")[:-len(body)])
        for i in range(0, len(body), 6):
            time.sleep(READ_TIMEOUT / 2)
            sock.sendall(body[i:i + 6])
        out, _ = _read_until_closed(sock)
    assert out.startswith(b"HTTP/1.1 200") and b"/trickled" in out


def test_a_client_waiting_on_a_long_poll_is_not_silent(tight: str) -> None:
    """A parked receive is the server's turn: it outlasts the read and idle timeouts and is answered."""
    sqs = boto3.client("sqs", endpoint_url=tight, **CREDENTIALS)
    url = sqs.create_queue(QueueName="parked")["QueueUrl"]
    with _connect(tight) as sock:
        sock.sendall(_sqs("ReceiveMessage", json.dumps({"QueueUrl": url, "WaitTimeSeconds": 20}).encode()))
        time.sleep(IDLE_TIMEOUT + READ_TIMEOUT)
        sqs.send_message(QueueUrl=url, MessageBody="worth the wait")
        out = _response(sock)
    assert out.startswith(b"HTTP/1.1 200") and b"worth the wait" in out


def test_an_idle_keep_alive_connection_is_closed(tight: str) -> None:
    with _connect(tight) as sock:
        sock.sendall(_sqs("ListQueues", b"{}"))
        assert _response(sock).startswith(b"HTTP/1.1 200")
        out, took = _read_until_closed(sock)
    assert out == b"" and IDLE_TIMEOUT * 0.9 <= took < IDLE_TIMEOUT + 2


def test_a_client_hanging_up_mid_body_is_not_an_internal_error(tight: str, caplog: pytest.LogCaptureFixture) -> None:
    post_json(f"{tight}/_conveyor/reset")  # a clean slate for the recent errors
    s3 = boto3.client("s3", endpoint_url=tight, **CREDENTIALS)
    s3.create_bucket(Bucket="hang-up")
    upload_id = s3.create_multipart_upload(Bucket="hang-up", Key="parts")["UploadId"]
    heads = [
        b"PUT /hang-up/key HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000000\r\n\r\n",
        f"PUT /hang-up/parts?partNumber=1&uploadId={upload_id} HTTP/1.1\r\nHost: localhost\r\n"
        "Content-Length: 1000000\r\n\r\n".encode(),
        (b"POST / HTTP/1.1\r\nHost: localhost\r\nX-Amz-Target: AmazonSQS.CreateQueue\r\n"
         b"Content-Type: application/x-amz-json-1.0\r\nContent-Length: 90000\r\n\r\n"),
        (b"POST /2015-03-31/functions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
         b"Content-Length: 5000\r\n\r\n"),
    ]
    with caplog.at_level(logging.WARNING):
        for head in heads:
            with _connect(tight) as sock:
                sock.sendall(head + b"z" * 100)
                time.sleep(0.05)
        time.sleep(0.3)
    assert not [r for r in caplog.records if r.name.startswith("conveyor") and r.levelno >= logging.ERROR]
    status = json.loads(urllib.request.urlopen(f"{tight}/_conveyor/status", timeout=5).read())
    # (unsigned, each is refused before its body is read: by S3's access check or its router)
    assert [e for e in status["recent_errors"] if e["code"] == "InternalFailure"] == []
    assert "Contents" not in s3.list_objects_v2(Bucket="hang-up")


@pytest.mark.parametrize("upgrade", [
    b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n",
    b"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n",
])
def test_upgrade_requests_are_answered_over_http11(tight: str, upgrade: bytes) -> None:
    """As if the Upgrade header were absent: the request (with its body) is served, and so is the next
    one on the same connection."""
    create = _sqs("CreateQueue", b'{"QueueName":"upgraded"}', upgrade)
    chunked = (b"POST / HTTP/1.1\r\nHost: localhost\r\nX-Amz-Target: AmazonSQS.ListQueues\r\n"
               b"Content-Type: application/x-amz-json-1.0\r\nTransfer-Encoding: chunked\r\n" + upgrade +
               b"\r\n2\r\n{}\r\n0\r\n\r\n")
    health = b"GET /_conveyor/health HTTP/1.1\r\nHost: localhost\r\n" + upgrade + b"Connection: close\r\n\r\n"
    with _connect(tight) as sock:
        sock.sendall(create + chunked + health)
        out, _ = _read_until_closed(sock)
    assert out.count(b"HTTP/1.1 200 OK") == 3 and b"101" not in out.split(b"\r\n")[0]
    assert out.index(b"/upgraded") < out.index(b'"QueueUrls"') < out.index(b'"services"')


def test_connections_beyond_the_limit_are_refused_with_503(tight: str) -> None:
    """Every connection busy (parked long polls): the next is answered 503 with Retry-After, and closed."""
    sqs = boto3.client("sqs", endpoint_url=tight, **CREDENTIALS)
    url = sqs.create_queue(QueueName="crowded")["QueueUrl"]
    poll = _sqs("ReceiveMessage", json.dumps({"QueueUrl": url, "WaitTimeSeconds": 20}).encode())
    time.sleep(IDLE_TIMEOUT + 0.2)  # botocore's own connection has been closed by now
    busy = [_connect(tight) for _ in range(MAX_CONNECTIONS)]
    try:
        for sock in busy:
            sock.sendall(poll)
        time.sleep(0.2)
        with _connect(tight) as extra:
            extra.sendall(_sqs("ListQueues", b"{}") * 2)  # pipelined: answered once, then closed
            out, _ = _read_until_closed(extra)
        assert out.startswith(b"HTTP/1.1 503 ") and b"retry-after: 1" in out.lower()
        assert out.count(b"HTTP/1.1") == 1
    finally:
        for sock in busy:
            sock.close()  # their polls end with them
    time.sleep(0.2)
    with _connect(tight) as sock:
        sock.sendall(_sqs("ListQueues", b"{}", b"Connection: close\r\n"))
        out, _ = _read_until_closed(sock)
    assert out.startswith(b"HTTP/1.1 200")


def test_a_connection_beyond_the_limit_closes_the_longest_idle_one(tight: str) -> None:
    time.sleep(IDLE_TIMEOUT + 0.2)  # earlier tests' keep-alive connections are gone
    idle = [_connect(tight) for _ in range(MAX_CONNECTIONS)]
    try:
        for sock in idle:
            sock.sendall(_sqs("ListQueues", b"{}"))
            assert _response(sock).startswith(b"HTTP/1.1 200")
            time.sleep(0.01)
        with _connect(tight) as sock:
            sock.sendall(_sqs("ListQueues", b"{}", b"Connection: close\r\n"))
            out, _ = _read_until_closed(sock)
        assert out.startswith(b"HTTP/1.1 200")
        assert _read_until_closed(idle[0])[0] == b""  # the longest idle made room
        idle[1].sendall(_sqs("ListQueues", b"{}"))
        assert _response(idle[1]).startswith(b"HTTP/1.1 200")  # the others still serve
    finally:
        for sock in idle:
            sock.close()


def test_the_connection_limit_is_set_from_the_command_line(start_server) -> None:  # noqa: ANN001
    server = start_server(None, "--max-connections", "2", "--clock", "manual")
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName="two-at-most")["QueueUrl"]
    sqs.close()  # its keep-alive connection would take one of the two places
    poll = _sqs("ReceiveMessage", json.dumps({"QueueUrl": url, "WaitTimeSeconds": 20}).encode())
    busy = [_connect(server.endpoint) for _ in range(2)]
    try:
        for sock in busy:
            sock.sendall(poll)
        time.sleep(0.2)
        with _connect(server.endpoint) as extra:
            extra.sendall(_sqs("ListQueues", b"{}"))
            out, _ = _read_until_closed(extra)
        assert out.startswith(b"HTTP/1.1 503 ") and b"maximum of 2 connections" in out
    finally:
        for sock in busy:
            sock.close()


@pytest.mark.parametrize(("soft", "hard", "expected"), [
    (300, 4096, (1024, 1024 + 64 + 256)),  # a low soft limit is raised to fit the connections
    (300, 600, (600 - 64 - 256, 600)),  # the hard limit caps it: fewer connections
    (300, 300, (300 // 4, 300)),
])
def test_the_connection_limit_fits_the_open_files_limit(soft: int, hard: int, expected: tuple[int, int]) -> None:
    """Run in a child process: a hard limit, once lowered, cannot be raised again."""
    code = (
        "import resource\n"
        "from conveyor.gateway.connections import ConnectionLimits, Connections\n"
        f"resource.setrlimit(resource.RLIMIT_NOFILE, ({soft}, {hard}))\n"
        "c = Connections(ConnectionLimits(max_connections=1024))\n"
        "print(c.max_open, resource.getrlimit(resource.RLIMIT_NOFILE)[0])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert tuple(int(n) for n in out.stdout.split()) == expected
