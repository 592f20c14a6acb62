"""HTTPS on the same port: a TLS ClientHello is served through TLS with a certificate of the local CA that
`conveyor up` makes in the data directory and prints; plain HTTP goes on working beside it."""

from __future__ import annotations

import re
import socket
import ssl
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config as BotoConfig

from tests.conftest import CREDENTIALS


def test_https_and_http_on_one_port(start_server: Any, tmp_path: Path) -> None:
    console = tmp_path / "console.txt"
    server = start_server(tmp_path / "data", console=console)
    ca = tmp_path / "data" / "tls" / "ca.pem"
    said = console.read_text()
    assert f"HTTPS on the same port: https://127.0.0.1:{server.port} (CA: {ca})" in said
    assert f"export AWS_CA_BUNDLE={ca}" in said and f"curl --cacert {ca}" in said
    https = f"https://localhost:{server.port}"
    sqs = boto3.client("sqs", endpoint_url=https, verify=str(ca), config=BotoConfig(retries={"max_attempts": 1}),
                       **CREDENTIALS)
    url = sqs.create_queue(QueueName="secure")["QueueUrl"]
    assert url.startswith(f"https://localhost:{server.port}/")  # what it hands back says https
    sqs.send_message(QueueUrl=url, MessageBody="over tls")
    plain = server.client("sqs")
    received = plain.receive_message(QueueUrl=plain.get_queue_url(QueueName="secure")["QueueUrl"])
    assert received["Messages"][0]["Body"] == "over tls"
    # Keep-alive over TLS, and a body larger than one TLS record.
    with requests.Session() as session:
        s3 = boto3.client("s3", endpoint_url=https, verify=str(ca), **CREDENTIALS)
        s3.create_bucket(Bucket="tls-bucket")
        big = bytes(range(256)) * 4096
        s3.put_object(Bucket="tls-bucket", Key="k", Body=big)
        for _ in range(3):
            assert session.get(f"{https}/_conveyor/health", verify=str(ca), timeout=10).status_code == 200
        assert s3.get_object(Bucket="tls-bucket", Key="k")["Body"].read() == big
    # The certificate names the local host names; curl trusts it with --cacert.
    for host in ("127.0.0.1", "localhost", "abc.cloudfront.localhost", "abc.execute-api.localhost",
                 "abc.lambda-url.localhost"):
        result = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", str(ca),
                                 f"https://{host}:{server.port}/_conveyor/health"], capture_output=True, timeout=30)
        assert result.returncode == 0, (host, result.stderr)


def test_a_client_that_distrusts_the_ca_does_not_stop_the_server(start_server: Any, tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"https://localhost:{server.port}/_conveyor/health", timeout=10)
    # Garbage after a handshake byte is a failed handshake, and the connection closes.
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"\x16\x03\x01\x00\x05hello")
        assert sock.recv(1024) is not None
    assert requests.get(f"{server.endpoint}/_conveyor/health", timeout=10).status_code == 200
    context = ssl.create_default_context(cafile=str(tmp_path / "data" / "tls" / "ca.pem"))
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname="localhost") as tls:
        tls.sendall(b"GET /_conveyor/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := tls.recv(65536):
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 200 OK")


def test_the_ca_is_made_once_and_kept(start_server: Any, tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    ca = (tmp_path / "data" / "tls" / "ca.pem").read_bytes()
    assert re.search(rb"-----BEGIN CERTIFICATE-----", ca)
    assert oct((tmp_path / "data" / "tls" / "ca-key.pem").stat().st_mode & 0o777) == "0o600"
    server.stop()
    start_server(tmp_path / "data", port=server.port)
    assert (tmp_path / "data" / "tls" / "ca.pem").read_bytes() == ca
