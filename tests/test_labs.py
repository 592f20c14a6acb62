"""The architecture's worker lab, replayed as a student would: us-east-2, their own worker.py started with
`python3 worker.py`, its output on the console, killed and replaced, scaled by hand and by backlog."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.conftest import CLI_ENV
from tests.helpers import wait_for
from tests.test_regions import aws_in

# What a student writes: plain boto3 and print(), no flush, no signal handling; region and endpoint
# come from the environment, the queue URL from the pool (QUEUE_URL).
WORKER = '''
import json, os, time
from urllib.parse import unquote_plus
import boto3

QUEUE_URL = os.environ["QUEUE_URL"]
sqs = boto3.client("sqs")
s3 = boto3.client("s3")
print("Worker started in", os.environ["AWS_DEFAULT_REGION"])
while True:
    response = sqs.receive_message(QueueUrl=QUEUE_URL, MaxNumberOfMessages=1, WaitTimeSeconds=10)
    for message in response.get("Messages", []):
        body = json.loads(message["Body"])
        if "Message" in body:
            body = json.loads(body["Message"])
        for record in body.get("Records", []):
            bucket = record["s3"]["bucket"]["name"]
            key = unquote_plus(record["s3"]["object"]["key"])
            print(f"Processing: {key}")
            time.sleep(float(os.environ.get("WORK_SECONDS", "0")))
            target = "processed/" + key.split("/", 1)[1]
            s3.copy_object(Bucket=bucket, Key=target, CopySource={"Bucket": bucket, "Key": key})
            s3.delete_object(Bucket=bucket, Key=key)
            print(f"Moved to: {target}")
        sqs.delete_message(QueueUrl=QUEUE_URL, ReceiptHandle=message["ReceiptHandle"])
'''

PIPELINE = """\
buckets:
  - name: student-upload-bucket
    prefixes: [uploads/, processed/]
    notifications:
      - {prefix: uploads/, topic: upload-events}
topics:
  - name: upload-events
    subscriptions: [{queue: devops-sqs-queue}]
queues:
  - name: devops-sqs-queue
    dead_letter: {queue: devops-sqs-dlq}
  - name: devops-sqs-dlq
pools:
  - name: workers
    queue: devops-sqs-queue
    command: python3 worker.py
    env: {WORK_SECONDS: "0.3"}
    min: 1
    max: 3
    target_backlog: 2
    warmup: 0
    scale_out_cooldown: 1
    scale_in_cooldown: 15
    drain_timeout: 5
"""


def internal(endpoint: str, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(f"{endpoint}/_conveyor/{path}", data=data, method=method)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def conveyor(endpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "conveyor.cli", *args, "--endpoint", endpoint],
                          capture_output=True, text=True, timeout=60, env={**os.environ, **CLI_ENV})


def live(endpoint: str) -> list[dict[str, Any]]:
    return [w for w in internal(endpoint, "GET", "workers") if w["state"] != "terminating"]


def processed(endpoint: str) -> set[str]:
    listing = aws_in(endpoint, "us-east-2", "s3api", "list-objects-v2", "--bucket", "student-upload-bucket",
                     "--prefix", "processed/") or {}
    return {o["Key"] for o in listing.get("Contents", []) if o["Key"] != "processed/"}


def test_worker_lab_in_us_east_2(start_server: Any, tmp_path: Path) -> None:
    lab = tmp_path / "lab"
    lab.mkdir()
    (lab / "worker.py").write_text(WORKER)
    (lab / "conveyor.yaml").write_text(PIPELINE)
    console = tmp_path / "console.txt"
    # `export AWS_DEFAULT_REGION=us-east-2`, then `conveyor up` from some other directory; python3 is this
    # interpreter (the one with boto3).
    env = {**os.environ, **CLI_ENV, "AWS_DEFAULT_REGION": "us-east-2",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("AWS_REGION", None)
    server = start_server(tmp_path / "data", "--pipeline", str(lab / "conveyor.yaml"), "--clock", "manual",
                          env=env, cwd=tmp_path, console=console)
    endpoint = server.endpoint
    [first] = wait_for(lambda: live(endpoint))
    wait_for(lambda: f"{first['id']} | Worker started in us-east-2" in console.read_text())
    assert "AWS_DEFAULT_REGION=us-east-2" in console.read_text()  # the banner's export line

    # Everything is in us-east-2, nothing in us-east-1.
    url = aws_in(endpoint, "us-east-2", "sqs", "get-queue-url", "--queue-name", "devops-sqs-queue")["QueueUrl"]
    assert "/queue/us-east-2/" in url
    assert aws_in(endpoint, "us-east-1", "sqs", "list-queues") is None
    assert aws_in(endpoint, "us-east-2", "s3api", "get-bucket-location",
                  "--bucket", "student-upload-bucket")["LocationConstraint"] == "us-east-2"
    status = conveyor(endpoint, "status").stdout
    assert "REGION us-east-2" in status and "REGION us-east-1" not in status and "devops-sqs-queue" in status

    # Upload: the worker's own print() lines show on the console (and in workers.log) as it works.
    upload = tmp_path / "test1.txt"
    upload.write_text("demo test")
    aws_in(endpoint, "us-east-2", "s3", "cp", str(upload), "s3://student-upload-bucket/uploads/test1.txt")
    wait_for(lambda: processed(endpoint) == {"processed/test1.txt"})
    wait_for(lambda: f"{first['id']} | Moved to: processed/test1.txt" in console.read_text())
    assert f"{first['id']} | Processing: uploads/test1.txt" in console.read_text()
    log = Path(internal(endpoint, "GET", "pools")["workers"]["log"]).read_text()
    assert f"{first['id']} | Processing: uploads/test1.txt" in log

    # `pkill -f worker.py`: the pool replaces it.
    os.kill(first["pid"], signal.SIGKILL)
    [second] = wait_for(lambda: [w for w in live(endpoint) if w["id"] != first["id"]])
    aws_in(endpoint, "us-east-2", "s3", "cp", str(upload), "s3://student-upload-bucket/uploads/after-kill.txt")
    wait_for(lambda: "processed/after-kill.txt" in processed(endpoint))
    wait_for(lambda: f"{second['id']} | Moved to: processed/after-kill.txt" in console.read_text())

    # Scaled by hand: it holds, although the empty queue would have target tracking scale in.
    assert conveyor(endpoint, "workers", "scale", "workers", "3").returncode == 0
    wait_for(lambda: len(live(endpoint)) == 3)
    for _ in range(5):
        internal(endpoint, "POST", "clock", {"advance": 2})
    assert internal(endpoint, "GET", "pools")["workers"]["desired"] == 3

    def scaled_in() -> bool:
        internal(endpoint, "POST", "clock", {"advance": 2})
        return len(live(endpoint)) == 1

    wait_for(scaled_in)

    # Scaled by backlog: ten uploads at once are more than one worker's target of 2 each.
    batch = tmp_path / "batch"
    batch.mkdir()
    for i in range(10):
        (batch / f"photo-{i}.jpg").write_bytes(b"x" * i)
    aws_in(endpoint, "us-east-2", "s3", "cp", "--recursive", str(batch), "s3://student-upload-bucket/uploads/")

    def scaled_out() -> bool:
        internal(endpoint, "POST", "clock", {"advance": 1})
        return internal(endpoint, "GET", "pools")["workers"]["desired"] == 3

    wait_for(scaled_out)
    wait_for(lambda: len(processed(endpoint)) == 12, timeout=60)
    assert any("backlog" in e and "per worker" in e for e in internal(endpoint, "GET", "pools")["workers"]["events"])
    movers = set(re.findall(r"(workers-\d+) \| Moved to: processed/photo-", console.read_text()))
    assert len(movers) >= 2  # the new workers took part

    # Ctrl-C (SIGTERM here): every worker stops, the server exits 0.
    pids = [w["pid"] for w in live(endpoint)]
    started = time.monotonic()
    assert server.stop() == 0
    assert time.monotonic() - started < 5 + 5 + 5  # drain_timeout, grace for requests, a few seconds
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
    assert "Conveyor stopped." in console.read_text()
