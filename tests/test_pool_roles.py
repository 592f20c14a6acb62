"""Pool workers run as their pool's role (an instance profile's role): a session of the role in each
worker's variables, named after the worker, replaced by a new worker before it expires; a role EC2 may
not assume is refused; a pipeline's `role:` makes the role and its instance profile."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import post_json
from tests.helpers import wait_for
from tests.test_workers import call, live_workers

EC2_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
# Asks STS who it is, writes the answer (and its key) to REPORT_DIR/WORKER_ID.json, then idles.
WHO_AM_I = [sys.executable, "-c", """
import json, os, signal, sys, time
import boto3
who = boto3.client("sts").get_caller_identity()
report = {"arn": who["Arn"], "key": os.environ["AWS_ACCESS_KEY_ID"], "token": bool(os.environ.get("AWS_SESSION_TOKEN"))}
with open(os.environ["REPORT_DIR"] + "/" + os.environ["CONVEYOR_WORKER_ID"] + ".json", "w") as f:
    json.dump(report, f)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
time.sleep(600)
"""]


def reports(directory: Path) -> dict[str, dict[str, Any]]:
    found = {}
    for path in directory.glob("*.json"):
        try:
            found[path.stem] = json.loads(path.read_text())
        except ValueError:  # still being written
            continue
    return found


def create_pool(endpoint: str, **spec: Any) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(f"{endpoint}/_conveyor/pools", data=json.dumps(spec).encode(), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def test_workers_call_aws_as_sessions_of_the_pools_role_renewed_before_they_expire(
        endpoint: str, client: Callable[..., Any], tmp_path: Path) -> None:
    role = client("iam").create_role(RoleName="worker", AssumeRolePolicyDocument=EC2_TRUST)["Role"]
    status, _ = create_pool(endpoint, name="who", command=WHO_AM_I, min=1, max=1, warmup=0, role=role["Arn"],
                            env={"REPORT_DIR": str(tmp_path)})
    assert status == 201
    [(first_id, first)] = wait_for(lambda: list(reports(tmp_path).items()))
    assert first["arn"] == f"arn:aws:sts::000000000000:assumed-role/worker/{first_id}"
    assert first["key"].startswith("ASIA") and first["token"]
    [shown] = live_workers(endpoint, "who")
    assert shown["role_session"] == first["arn"]

    # Twelve hours on, less ten minutes: the pool replaces the worker with one holding a new session.
    post_json(f"{endpoint}/_conveyor/clock", {"advance": 12 * 3600 - 600})
    second = wait_for(lambda: {k: v for k, v in reports(tmp_path).items() if k != first_id})
    [(second_id, report)] = second.items()
    assert report["arn"] == f"arn:aws:sts::000000000000:assumed-role/worker/{second_id}"
    assert report["key"] != first["key"]
    events = call(endpoint, "GET", "pools")["who"]["events"]
    assert any(f"{first_id}'s role session ends in 600 s" in line for line in events)


def test_a_role_ec2_cannot_assume_is_refused(endpoint: str, client: Callable[..., Any]) -> None:
    lambda_only = client("iam").create_role(RoleName="fn", AssumeRolePolicyDocument=EC2_TRUST.replace(
        "ec2.amazonaws.com", "lambda.amazonaws.com"))["Role"]["Arn"]
    for arn in (lambda_only, "arn:aws:iam::000000000000:role/missing"):
        status, body = create_pool(endpoint, name="refused", command=WHO_AM_I, role=arn)
        assert status == 400
        assert f"role {arn} does not exist or its trust policy does not let ec2.amazonaws.com assume it" in \
            body["message"]
    assert create_pool(endpoint, name="refused", command=WHO_AM_I, role="worker")[0] == 400  # not an ARN
    assert "refused" not in call(endpoint, "GET", "pools")


def test_a_pipeline_pool_role_is_made_with_its_instance_profile(endpoint: str, aws: Any, tmp_path: Path) -> None:
    pipeline = tmp_path / "conveyor.yaml"
    reports_dir = tmp_path / "reports"
    reports_dir.mkdir()
    pipeline.write_text(f"""
buckets:
  - name: photos
queues:
  - name: jobs
pools:
  - name: whoami
    queue: jobs
    role: photo-workers
    command: {json.dumps(WHO_AM_I)}
    env: {{REPORT_DIR: {reports_dir}}}
    warmup: 0
""")
    applied = subprocess.run([sys.executable, "-m", "conveyor.cli", "apply", "--pipeline", str(pipeline),
                              "--endpoint", endpoint], capture_output=True, text=True, timeout=60)
    assert "created role photo-workers for ec2 (pipeline-access) in an instance profile" in applied.stdout, \
        applied.stdout + applied.stderr
    profile = aws("iam", "get-instance-profile", "--instance-profile-name", "photo-workers")["InstanceProfile"]
    assert [r["RoleName"] for r in profile["Roles"]] == ["photo-workers"]
    access = aws("iam", "get-role-policy", "--role-name", "photo-workers", "--policy-name", "pipeline-access")
    statements = access["PolicyDocument"]["Statement"]
    assert statements[0]["Resource"] == ["arn:aws:s3:::photos/*"]
    assert statements[2]["Resource"] == "arn:aws:sqs:us-east-1:000000000000:jobs"
    [report] = wait_for(lambda: list(reports(reports_dir).values()))
    assert report["arn"].startswith("arn:aws:sts::000000000000:assumed-role/photo-workers/whoami-")
    again = subprocess.run([sys.executable, "-m", "conveyor.cli", "apply", "--pipeline", str(pipeline),
                            "--endpoint", endpoint], capture_output=True, text=True, timeout=60)
    assert again.stdout.strip() == "pipeline up to date in us-east-1: nothing to change"


def test_a_pool_whose_role_is_gone_is_blocked_until_it_is_back(endpoint: str, client: Callable[..., Any],
                                                               tmp_path: Path) -> None:
    iam = client("iam")
    arn = iam.create_role(RoleName="worker", AssumeRolePolicyDocument=EC2_TRUST)["Role"]["Arn"]
    assert create_pool(endpoint, name="who", command=WHO_AM_I, min=1, max=1, warmup=0, role=arn,
                       env={"REPORT_DIR": str(tmp_path)})[0] == 201
    [first] = wait_for(lambda: list(reports(tmp_path)))
    iam.delete_role(RoleName="worker")
    call(endpoint, "POST", f"workers/{first}/kill")
    wait_for(lambda: call(endpoint, "GET", "pools")["who"]["state"] == "blocked")
    shown = subprocess.run([sys.executable, "-m", "conveyor.cli", "workers", "--endpoint", endpoint],
                           capture_output=True, text=True, timeout=30).stdout
    assert f"blocked (cannot start workers: ec2.amazonaws.com cannot assume {arn})" in shown
    iam.create_role(RoleName="worker", AssumeRolePolicyDocument=EC2_TRUST)
    post_json(f"{endpoint}/_conveyor/clock", {"advance": 1})  # the next evaluation starts a worker again
    wait_for(lambda: len(reports(tmp_path)) == 2)
    assert call(endpoint, "GET", "pools")["who"]["state"] == "ok"
