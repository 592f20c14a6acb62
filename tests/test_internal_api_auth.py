"""Conveyor's own API (/_conveyor/*) under `--auth sigv4`: nothing but `GET /_conveyor/health` answers
without a valid signature (service name `conveyor`), and the `conveyor` command signs its calls. With
authentication off (loopback only), local processes may do anything, web pages nothing."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config as BotoConfig
from botocore.credentials import Credentials

from tests.helpers import wait_for

KEY, SECRET = "AKIDCONVEYOR", "s3cret"


@pytest.fixture
def secured(start_server, tmp_path):  # type: ignore[no-untyped-def]
    return start_server(tmp_path / "sigv4", "--auth", "sigv4", "--access-key", KEY, "--secret-key", SECRET)


def signed(server: Any, method: str, path: str, payload: Any = None, *, service: str = "conveyor",
           secret: str = SECRET) -> AWSRequest:
    body = json.dumps(payload).encode() if payload is not None else b""
    request = AWSRequest(method, f"{server.endpoint}/_conveyor/{path}", data=body,
                         headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(KEY, secret), service, "us-east-1").add_auth(request)
    return request


def send(request: AWSRequest, body: bytes | None = None) -> requests.Response:
    return requests.request(request.method, request.url, data=request.body if body is None else body,
                            headers={k: str(v) for k, v in request.headers.items()}, timeout=30)


def touching_pool(marker: Path) -> dict[str, Any]:
    """A pool whose worker would create `marker`: proof of whether a command ran."""
    return {"name": "evil", "command": [sys.executable, "-c", f"open({str(marker)!r}, 'w').close()"],
            "min": 1, "max": 1, "warmup": 0}


ENDPOINTS = [("POST", "reset"), ("GET", "status"), ("GET", "metrics"), ("GET", "workers"), ("GET", "pools"),
             ("POST", "pools"), ("DELETE", "pools/movers"), ("POST", "pools/movers/scale"),
             ("POST", "workers/movers-1/kill"), ("GET", "functions"), ("GET", "functions/fn/logs"),
             ("GET", "clock"), ("POST", "clock"), ("GET", "nope")]


def test_every_internal_endpoint_but_health_needs_a_signature(secured, tmp_path) -> None:
    sqs = boto3.client("sqs", endpoint_url=secured.endpoint, region_name="us-east-1", aws_access_key_id=KEY,
                       aws_secret_access_key=SECRET, config=BotoConfig(retries={"max_attempts": 1}))
    sqs.create_queue(QueueName="survives")
    marker = tmp_path / "ran"
    for method, path in ENDPOINTS:
        response = requests.request(method, f"{secured.endpoint}/_conveyor/{path}",
                                    json=touching_pool(marker) if path == "pools" else None, timeout=30)
        assert response.status_code == 403, (method, path, response.text)
        assert response.json() == {"__type": "MissingAuthenticationToken",
                                   "message": "Request is missing Authentication Token"}
    assert requests.get(f"{secured.endpoint}/_conveyor/health", timeout=30).json()["auth"] == "sigv4"
    assert sqs.list_queues()["QueueUrls"]  # the unsigned reset wiped nothing
    assert send(signed(secured, "GET", "pools")).json() == {}  # and the unsigned POST created no pool
    assert not marker.exists()


def test_signed_internal_calls_work_and_forgeries_do_not(secured, tmp_path) -> None:
    marker = tmp_path / "ran"
    assert send(signed(secured, "GET", "status")).status_code == 200
    wrong = send(signed(secured, "POST", "pools", touching_pool(marker), secret="wrong"))
    assert wrong.status_code == 403 and wrong.json()["__type"] == "SignatureDoesNotMatch"
    other_service = send(signed(secured, "POST", "reset", service="sqs"))
    assert other_service.status_code == 403
    assert other_service.json()["message"] == "Credential should be scoped to correct service: 'conveyor'."
    # A signed harmless pool whose body is swapped for one running a command after signing.
    harmless = signed(secured, "POST", "pools", {"name": "idle", "command": ["true"], "min": 0, "max": 0})
    swapped = send(harmless, body=json.dumps(touching_pool(marker)).encode())
    assert swapped.status_code == 403 and swapped.json()["__type"] == "SignatureDoesNotMatch"
    assert send(signed(secured, "GET", "pools")).json() == {}
    assert send(signed(secured, "POST", "reset")).json() == {"reset": True}
    assert not marker.exists()


def conveyor_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CONVEYOR_"))}
    return subprocess.run([sys.executable, "-m", "conveyor.cli", *args], capture_output=True, text=True,
                          timeout=60, env={**clean, **env})


def test_the_conveyor_command_signs_its_calls(secured) -> None:
    refused = conveyor_cli("workers", "--endpoint", secured.endpoint)  # test/test: not this server's key
    assert refused.returncode != 0
    assert "The security token included in the request is invalid" in refused.stderr
    assert "--access-key" in refused.stderr  # says how to give it the right credentials
    by_env = conveyor_cli("workers", "--json", "--endpoint", secured.endpoint,
                          AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET)
    assert by_env.returncode == 0, by_env.stderr
    assert json.loads(by_env.stdout) == []
    by_flags = conveyor_cli("status", "--endpoint", secured.endpoint, "--access-key", KEY, "--secret-key", SECRET)
    assert by_flags.returncode == 0, by_flags.stderr
    assert "QUEUES" in by_flags.stdout
    by_server_env = conveyor_cli("functions", "--endpoint", secured.endpoint,
                                 CONVEYOR_ACCESS_KEY_ID=KEY, CONVEYOR_SECRET_ACCESS_KEY=SECRET)
    assert by_server_env.returncode == 0, by_server_env.stderr


POOL_PIPELINE = """
queues:
  - name: jobs
pools:
  - name: sleepers
    queue: jobs
    command: ["{python}", "-c", "import time; time.sleep(30)"]
    min: 0
    max: 1
    desired: 0
"""


def test_up_and_apply_sign_the_pool_calls(start_server, tmp_path) -> None:
    pipeline = tmp_path / "conveyor.yaml"
    pipeline.write_text(POOL_PIPELINE.replace("{python}", sys.executable))
    server = start_server(tmp_path / "data", "--auth", "sigv4", "--access-key", KEY, "--secret-key", SECRET,
                          "--pipeline", str(pipeline))
    wait_for(lambda: "sleepers" in send(signed(server, "GET", "pools")).json(),  # applied on start, signed
             timeout=30, interval=0.1, what="conveyor up creating the pool")
    applied = conveyor_cli("apply", "--pipeline", str(pipeline), "--endpoint", server.endpoint,
                           AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET)
    assert applied.returncode == 0, applied.stderr
    assert "up to date" in applied.stdout


# -- authentication off: loopback processes yes, web pages no ---------------------------------------

def _any_presigned_query(service: str) -> str:
    now = datetime.datetime.now(datetime.UTC)
    return (f"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=anyone%2F{now:%Y%m%d}%2Fus-east-1%2F{service}"
            f"%2Faws4_request&X-Amz-Date={now:%Y%m%dT%H%M%SZ}&X-Amz-Expires=300&X-Amz-SignedHeaders=host"
            "&X-Amz-Signature=0000")


def test_auth_off_refuses_browsers_and_foreign_host_names(endpoint, client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    sqs = client("sqs")
    sqs.create_queue(QueueName="kept")
    marker = tmp_path / "ran"
    port = endpoint.rsplit(":", 1)[1]
    attacks = [
        {"Origin": "https://evil.example"},  # a cross-site form or fetch
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "null"},  # a sandboxed frame or a file:// page
        {"Host": f"rebound.evil.example:{port}"},  # DNS rebinding: same origin, foreign name
    ]
    for headers in attacks:
        reset = requests.post(f"{endpoint}/_conveyor/reset", headers=headers, timeout=30)
        assert reset.status_code == 403, headers
        assert reset.json()["__type"] == "AccessDenied"
        pool = requests.post(f"{endpoint}/_conveyor/pools", data=json.dumps(touching_pool(marker)),
                             headers={"Content-Type": "text/plain", **headers}, timeout=30)
        assert pool.status_code == 403
        # The AWS APIs that run code or hold messages refuse them too, in their own protocol.
        form = requests.post(f"{endpoint}/", data={"Action": "ListQueues", "Version": "2012-11-05"}, headers=headers,
                             timeout=30)
        assert form.status_code == 403 and b"<Code>AccessDenied</Code>" in form.content
        # A page can make a "presigned" URL for Lambda with any key: with authentication off only its
        # expiry is checked. Without the browser rule this would reach CreateFunction.
        function = requests.post(f"{endpoint}/2015-03-31/functions?{_any_presigned_query('lambda')}",
                                 headers={**headers, "Content-Type": "text/plain"}, data=b'{"FunctionName": "f"}',
                                 timeout=30)
        assert function.status_code == 403 and function.headers["x-amzn-ErrorType"] == "AccessDenied"
    assert sqs.list_queues()["QueueUrls"]
    assert not marker.exists()
    # Local tools, and pages Conveyor itself serves (same origin), are fine.
    assert requests.get(f"{endpoint}/_conveyor/status", timeout=30).status_code == 200
    same_origin = requests.get(f"{endpoint}/_conveyor/status", timeout=30,
                               headers={"Origin": endpoint, "Sec-Fetch-Site": "same-origin"})
    assert same_origin.status_code == 200
    for name in ("localhost", "sqs.us-east-1.amazonaws.com"):  # AWS names pointed here by /etc/hosts too
        assert requests.get(f"{endpoint}/_conveyor/status", headers={"Host": f"{name}:{port}"},
                            timeout=30).status_code == 200


def test_public_address_needs_sigv4_and_a_secret_of_its_own() -> None:
    def up(*args: str) -> subprocess.CompletedProcess[str]:
        return conveyor_cli("up", "--host", "0.0.0.0", "--port", "0", *args)

    off = up("--auth", "off")
    assert off.returncode == 2 and "refusing to serve 0.0.0.0 without authentication" in off.stderr
    default_secret = up("--auth", "sigv4")
    assert default_secret.returncode == 2 and "well-known default secret key" in default_secret.stderr
