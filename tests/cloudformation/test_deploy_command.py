"""`conveyor deploy`: local code packaged to the code bucket, a change set, the stack's events shown as they
happen, the outputs; a second deploy without changes changes nothing; changed code updates the function. And
the pipeline file itself deployed (its mover as a function with an SQS mapping) runs the lab."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import CLI_ENV
from tests.helpers import wait_for

TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Greeter:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      CodeUri: src/
Outputs:
  GreeterName:
    Value: !Ref Greeter
"""

PIPELINE = """
buckets:
  - name: piped-uploads
    notifications:
      - {events: ["s3:ObjectCreated:*"], prefix: uploads/, queue: piped-jobs}
queues:
  - name: piped-jobs
    visibility_timeout: 60
    dead_letter: {queue: piped-jobs-dlq, max_receive_count: 3}
  - name: piped-jobs-dlq
functions:
  - name: piped-mover
    code: mover
    queue: piped-jobs
    env: {SOURCE_PREFIX: uploads/, DEST_PREFIX: processed/}
"""


def deploy(endpoint: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "conveyor.cli", "deploy", "--endpoint", endpoint, *args],
                          capture_output=True, text=True, cwd=cwd, env={**os.environ, **CLI_ENV}, timeout=180)


def test_deploy_packages_local_code_streams_events_and_updates(tmp_path: Path, endpoint: str, client) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    return 'v1'\n")
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    done = deploy(endpoint, "--stack", "greeter", "--code-bucket", "greeter-code", "template.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "made the code bucket greeter-code" in out and "uploaded s3://greeter-code/conveyor/src-" in out
    assert "  Add     Greeter " in out and "  Add     GreeterRole " in out
    # Events in the order they happened, the stack's last.
    lines = [line for line in out.splitlines() if re.match(r"\d\d:\d\d:\d\d  ", line)]
    assert "REVIEW_IN_PROGRESS" in lines[0] and "AWS::CloudFormation::Stack" in lines[0]  # the change set's
    assert "CREATE_IN_PROGRESS" in lines[1] and "AWS::CloudFormation::Stack" in lines[1]
    assert "CREATE_COMPLETE" in lines[-1] and lines[-1].endswith(" greeter")
    assert any("CREATE_COMPLETE" in line and line.endswith(" Greeter") for line in lines)
    name = next(line.split(" = ")[1] for line in out.splitlines() if line.startswith("  GreeterName = "))
    lam = client("lambda")
    assert json.loads(lam.invoke(FunctionName=name)["Payload"].read()) == "v1"

    again = deploy(endpoint, "--stack", "greeter", "--code-bucket", "greeter-code", "template.yaml", cwd=tmp_path)
    assert again.returncode == 0 and "No changes to deploy. Stack greeter is up to date" in again.stdout

    (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    return 'v2'\n")
    updated = deploy(endpoint, "--stack", "greeter", "--code-bucket", "greeter-code", "template.yaml", cwd=tmp_path)
    assert updated.returncode == 0, updated.stdout + updated.stderr
    assert "  Modify  Greeter " in updated.stdout and "Stack greeter: UPDATE_COMPLETE" in updated.stdout
    assert "CREATE_COMPLETE" not in updated.stdout  # only this update's events are shown
    assert json.loads(lam.invoke(FunctionName=name)["Payload"].read()) == "v2"
    client("cloudformation").delete_stack(StackName="greeter")
    client("cloudformation").get_waiter("stack_delete_complete").wait(StackName="greeter", WaiterConfig={"Delay": 1})


def test_a_failing_deploy_says_so_and_exits_non_zero(tmp_path: Path, endpoint: str) -> None:
    (tmp_path / "template.yaml").write_text("""
Resources:
  Bad:
    Type: AWS::SQS::Queue
    Properties: {VisibilityTimeout: 999999}
""")
    done = deploy(endpoint, "--stack", "bad", "template.yaml", cwd=tmp_path)
    assert done.returncode == 1
    assert "CREATE_FAILED" in done.stdout and "Stack bad: ROLLBACK_COMPLETE" in done.stdout


def test_deploy_of_the_pipeline_file_runs_the_lab(tmp_path: Path, endpoint: str, client) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "conveyor.yaml").write_text(PIPELINE)
    done = deploy(endpoint, "--stack", "piped", "--code-bucket", "piped-code", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "uploaded s3://piped-code/conveyor/piped-mover-" in done.stdout
    assert "  PipedUploadsBucketName = piped-uploads" in done.stdout
    mapping = client("lambda").list_event_source_mappings(FunctionName="piped-mover")["EventSourceMappings"]
    assert mapping[0]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    s3 = client("s3")
    s3.put_object(Bucket="piped-uploads", Key="uploads/report.csv", Body=b"a,b")
    wait_for(lambda: [o for o in s3.list_objects_v2(Bucket="piped-uploads").get("Contents", [])
                      if o["Key"] == "processed/report.csv"], timeout=60, what="the upload is processed")
