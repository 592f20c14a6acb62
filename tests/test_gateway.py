"""The foundation through its real interfaces: health, reset, clock, STS, SigV4 and start-up rules."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from conveyor import __version__


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def test_health_names_version_and_services(endpoint: str) -> None:
    health = get_json(f"{endpoint}/_conveyor/health")
    assert health["version"] == __version__
    assert {"sts", "sqs", "s3"} <= set(health["services"])


def test_unknown_internal_endpoint_is_404(endpoint: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{endpoint}/_conveyor/nope", timeout=10)
    info.value.close()
    assert info.value.code == 404


def test_manual_clock_moves_forward_only(endpoint: str, advance) -> None:
    before = get_json(f"{endpoint}/_conveyor/clock")["now"]
    assert advance(90) == pytest.approx(before + 90)
    request = urllib.request.Request(f"{endpoint}/_conveyor/clock", data=b'{"advance": -5}', method="POST")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=10)
    info.value.close()
    assert info.value.code == 400


def test_sts_caller_identity_boto3_and_cli(client, aws) -> None:
    identity = client("sts").get_caller_identity()
    assert identity["Account"] == "000000000000"
    assert identity["Arn"] == "arn:aws:iam::000000000000:root"
    assert aws("sts", "get-caller-identity")["Account"] == "000000000000"


def test_metrics_count_requests(endpoint: str, client) -> None:
    client("sts").get_caller_identity()
    with urllib.request.urlopen(f"{endpoint}/_conveyor/metrics", timeout=10) as response:
        text = response.read().decode()  # Prometheus's text format (tests/test_prometheus.py reads it all)
    assert 'conveyor_requests_total{operation="GetCallerIdentity",service="sts",status="200"} 1.0' in text


def test_sigv4_mode_verifies_signatures(start_server) -> None:
    server = start_server(None, "--auth", "sigv4", "--account-id", "123456789012",
                          "--access-key", "AKIDCONVEYOR", "--secret-key", "s3cret")

    def sts(key: str, secret: str):
        return boto3.client("sts", endpoint_url=server.endpoint, aws_access_key_id=key,
                            aws_secret_access_key=secret, region_name="eu-west-1",
                            config=BotoConfig(retries={"max_attempts": 1}))

    assert sts("AKIDCONVEYOR", "s3cret").get_caller_identity()["Account"] == "123456789012"
    with pytest.raises(ClientError) as wrong_secret:
        sts("AKIDCONVEYOR", "wrong").get_caller_identity()
    assert wrong_secret.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert wrong_secret.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as unknown:
        sts("AKIDUNKNOWN", "s3cret").get_caller_identity()
    assert unknown.value.response["Error"]["Code"] == "InvalidClientTokenId"
    request = urllib.request.Request(f"{server.endpoint}/", data=b"Action=GetCallerIdentity&Version=2011-06-15",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    with pytest.raises(urllib.error.HTTPError) as unsigned:
        urllib.request.urlopen(request, timeout=10)
    assert unsigned.value.code == 403
    assert b"MissingAuthenticationToken" in unsigned.value.read()
    unsigned.value.close()


def test_auth_off_refused_on_public_address() -> None:
    result = subprocess.run([sys.executable, "-m", "conveyor.cli", "up", "--host", "0.0.0.0", "--auth", "off"],
                            capture_output=True, timeout=30)
    assert result.returncode == 2
    assert b"refusing to serve" in result.stderr


def test_starts_fast_and_stops_cleanly(start_server, tmp_path) -> None:
    started = time.perf_counter()
    server = start_server(tmp_path / "fast")
    assert time.perf_counter() - started < 5  # includes interpreter start; the server prints its own figure
    output = b""
    assert server.stop() == 0
    output = server.process.stdout.read()
    assert b"ready on" in output and b"AWS_ENDPOINT_URL" in output
