"""Scripts written for LocalStack: its readiness endpoints answer in its shape, on the default port's paths."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from typing import Any

import pytest

from conveyor import __version__
from tests.helpers import wait_for


def get(url: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_health_answers_in_localstacks_shape(endpoint: str) -> None:
    status, headers, body = get(f"{endpoint}/_localstack/health")
    assert status == 200 and headers["Content-Type"] == "application/json"
    doc = json.loads(body)
    assert set(doc) == {"services", "edition", "version"}
    # Every served service, by LocalStack's names: "available" until first used (LocalStack's word for a
    # service it loads on first request, as Conveyor does), "running" after.
    assert set(doc["services"]) == {"sts", "iam", "logs", "cloudwatch", "kinesis", "dynamodb", "sqs", "sns", "lambda",
                                    "events", "scheduler", "s3", "apigateway", "elbv2", "ec2", "autoscaling",
                                    "cloudfront", "route53", "cloudformation"}
    assert set(doc["services"].values()) <= {"available", "running"}
    assert doc["version"] == __version__ and doc["edition"] == "conveyor"
    head_status, _, head_body = get(f"{endpoint}/_localstack/health", "HEAD")
    assert head_status == 200 and head_body == b""
    assert get(f"{endpoint}/_localstack/health", "POST")[0] == 405  # LocalStack's restart/kill backdoor


def test_a_ci_wait_loop_written_for_localstack_finishes(endpoint: str) -> None:
    # The usual shell one-liner of CI jobs and compose health checks: LocalStack too loads a service on its
    # first request, so scripts accept "available" as well as "running".
    script = (f'for i in $(seq 1 20); do curl -sf {endpoint}/_localstack/health | grep -qE \'"sqs": "(available|running)"\' '
              '&& exit 0; sleep 0.2; done; exit 1')
    assert subprocess.run(["sh", "-c", script], timeout=30).returncode == 0
    assert subprocess.run(["curl", "-sf", f"{endpoint}/_localstack/init/ready"], capture_output=True,
                          timeout=10).returncode == 0


@pytest.mark.parametrize(("path", "expected"), [
    ("/_localstack/init", {"completed": {"BOOT": True, "START": True, "READY": True, "SHUTDOWN": False},
                           "scripts": []}),
    ("/_localstack/init/ready", {"completed": True, "scripts": []}),
    ("/_localstack/init/shutdown", {"completed": False, "scripts": []}),
])
def test_init_stages(endpoint: str, path: str, expected: dict[str, Any]) -> None:
    status, _, body = get(endpoint + path)
    assert status == 200 and json.loads(body) == expected


def test_other_localstack_paths_are_not_buckets(endpoint: str) -> None:
    status, _, body = get(f"{endpoint}/_localstack/diagnose")
    assert status == 404 and b"/_localstack/health" in body


def test_health_is_open_under_sigv4(start_server: Any, tmp_path: Any) -> None:
    server = start_server(tmp_path / "data", "--auth", "sigv4")
    status, _, body = get(f"{server.endpoint}/_localstack/health")
    assert status == 200 and json.loads(body)["services"]["s3"] == "available"  # nothing asked of it yet
    server.client("s3").list_buckets()
    status, _, body = get(f"{server.endpoint}/_localstack/health")
    assert status == 200 and json.loads(body)["services"]["s3"] == "running"
    status, _, body = get(f"{server.endpoint}/_localstack/init/ready")
    assert status == 200 and json.loads(body)["completed"] is True


def test_ready_waits_for_the_pipeline_conveyor_up_applies(start_server: Any, tmp_path: Any) -> None:
    pipeline = tmp_path / "conveyor.yaml"
    pipeline.write_text("queues:\n  - name: made-at-start\n")
    server = start_server(tmp_path / "data", "--pipeline", str(pipeline))
    wait_for(lambda: json.loads(get(f"{server.endpoint}/_localstack/init/ready")[2])["completed"])
    # Once READY, what the pipeline creates is there.
    sqs = server.client("sqs")
    assert sqs.get_queue_url(QueueName="made-at-start")["QueueUrl"].endswith("/made-at-start")
