"""The pipeline as a user meets it: `conveyor up` with the default or a custom conveyor.yaml."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.conftest import run_aws

POISON_PIPELINE = """
queues:
  - name: jobs
    visibility_timeout: 1
    dead_letter: {queue: jobs-dlq, max_receive_count: 3}
  - name: jobs-dlq
pools:
  - name: movers
    queue: jobs
    min: 1
    max: 1
    warmup: 0
"""


def wait_for(condition, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def conveyor(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "conveyor.cli", *args], capture_output=True, text=True,
                          timeout=60, cwd=cwd)


def test_default_pipeline_end_to_end_and_idempotent(start_server, tmp_path) -> None:
    data = tmp_path / "data"
    server = start_server(data, "--with-pipeline")
    s3 = server.client("s3")
    wait_for(lambda: conveyor("workers", "--json", "--endpoint", server.endpoint).stdout.count('"id"') == 1)
    upload = tmp_path / "holiday photo.jpg"
    upload.write_bytes(b"\xff\xd8 not really a jpeg")
    run_aws(server.endpoint, "s3", "cp", str(upload), "s3://conveyor-uploads/uploads/holiday photo.jpg")
    started = time.monotonic()
    wait_for(lambda: "processed/holiday photo.jpg" in
             {o["Key"] for o in s3.list_objects_v2(Bucket="conveyor-uploads").get("Contents", [])})
    assert time.monotonic() - started < 10
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="conveyor-uploads").get("Contents", [])}
    assert "uploads/holiday photo.jpg" not in keys
    status = conveyor("status", "--endpoint", server.endpoint)
    assert "upload-jobs-dlq  (DLQ)" in status.stdout and "movers" in status.stdout
    assert "processed/ 1" in status.stdout
    first_output = server.process.stdout
    assert server.stop() == 0
    assert b"created worker pool movers" in first_output.read()

    again = start_server(data, "--with-pipeline")
    wait_for(lambda: b"nothing to change" in _read_available(again))
    applied = conveyor("apply", "--endpoint", again.endpoint)
    assert applied.returncode == 0 and "nothing to change" in applied.stdout


def _read_available(server) -> bytes:
    import os

    os.set_blocking(server.process.stdout.fileno(), False)
    chunk = server.process.stdout.read() or b""
    server.__dict__.setdefault("_seen", b"")
    server.__dict__["_seen"] += chunk
    return server.__dict__["_seen"]


def test_poison_message_reaches_dlq_and_moves_back(start_server, tmp_path) -> None:
    pipeline = tmp_path / "conveyor.yaml"
    pipeline.write_text(POISON_PIPELINE)
    server = start_server(tmp_path / "data", "--pipeline", str(pipeline))
    sqs = server.client("sqs")
    url = wait_for(lambda: _queue_url(sqs, "jobs"))
    dlq_url = wait_for(lambda: _queue_url(sqs, "jobs-dlq"))
    sqs.send_message(QueueUrl=url, MessageBody="this is not an S3 event")
    depth = lambda u: int(sqs.get_queue_attributes(QueueUrl=u, AttributeNames=["ApproximateNumberOfMessages"])  # noqa: E731
                          ["Attributes"]["ApproximateNumberOfMessages"])
    wait_for(lambda: depth(dlq_url) == 1, timeout=30)
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    refused = conveyor("workers", "scale", "movers", "0", "--endpoint", server.endpoint)
    assert refused.returncode != 0 and "outside [1, 1]" in refused.stderr
    # Retire the failing workers before moving the message back, so it waits in the source queue.
    urllib.request.urlopen(urllib.request.Request(f"{server.endpoint}/_conveyor/pools/movers", method="DELETE"))
    task = sqs.start_message_move_task(SourceArn=dlq_arn)
    assert task["TaskHandle"]
    wait_for(lambda: depth(dlq_url) == 0 and depth(url) == 1)
    [message] = sqs.receive_message(QueueUrl=url)["Messages"]
    assert message["Body"] == "this is not an S3 event"
    tasks = sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"]
    assert tasks[0]["Status"] == "COMPLETED" and tasks[0]["ApproximateNumberOfMessagesMoved"] == 1


def _queue_url(sqs, name: str) -> str | None:
    try:
        return sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except Exception:
        return None


def test_invalid_pipeline_names_the_line(tmp_path) -> None:
    bad = tmp_path / "conveyor.yaml"
    bad.write_text("queues:\n  - name: jobs\n    visibility_timeout: forever\n")
    result = conveyor("up", "--pipeline", str(bad), "--port", "1", "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 2
    assert f"{bad}:3:" in result.stderr and "visibility_timeout" in result.stderr


def test_init_writes_an_editable_default(tmp_path) -> None:
    result = conveyor("init", cwd=tmp_path)
    assert result.returncode == 0
    text = (tmp_path / "conveyor.yaml").read_text()
    assert "upload-jobs-dlq" in text and "max_receive_count: 3" in text
    assert conveyor("init", cwd=tmp_path).returncode == 1  # never overwrites silently
