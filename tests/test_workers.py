"""Worker pools through the real interfaces: the built-in mover, self-healing, target tracking."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import post_json

IDLE_WORKER = [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, lambda *a: exit(0)); time.sleep(600)"]


def call(endpoint: str, method: str, path: str, payload: dict | None = None) -> Any:
    import urllib.request

    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(f"{endpoint}/_conveyor/{path}", data=data, method=method)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def wait_for(condition: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def workers_cli(endpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "conveyor.cli", "workers", "--endpoint", endpoint, *args],
                          capture_output=True, text=True, timeout=30)


@pytest.fixture
def upload_pipeline(client) -> tuple[Any, Any, str]:
    s3, sqs = client("s3"), client("sqs")
    s3.create_bucket(Bucket="media")
    url = sqs.create_queue(QueueName="uploads")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(Bucket="media", NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"],
                                 "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "uploads/"}]}}}]})
    test_event = sqs.receive_message(QueueUrl=url).get("Messages", [])
    for message in test_event:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return s3, sqs, url


def processed_keys(s3) -> set[str]:
    return {o["Key"] for o in s3.list_objects_v2(Bucket="media", Prefix="processed/").get("Contents", [])}


def test_mover_pool_moves_uploads_and_heals(endpoint, upload_pipeline, aws, advance, tmp_path) -> None:
    s3, sqs, url = upload_pipeline
    call(endpoint, "POST", "pools", {"name": "movers", "queue": url, "min": 1, "max": 1, "warmup": 0,
                                     "drain_timeout": 2, "env": {"QUEUE_URL": url}})
    source = tmp_path / "cat photo.jpg"
    source.write_bytes(b"meow" * 100)
    aws("s3", "cp", str(source), "s3://media/uploads/cat photo.jpg")
    wait_for(lambda: processed_keys(s3) == {"processed/cat photo.jpg"})
    assert "Contents" not in s3.list_objects_v2(Bucket="media", Prefix="uploads/")

    [worker] = call(endpoint, "GET", "workers")
    assert worker["pool"] == "movers" and worker["state"] in ("starting", "in-service")
    listing = workers_cli(endpoint)
    assert worker["id"] in listing.stdout
    killed = workers_cli(endpoint, "kill", worker["id"])
    assert killed.returncode == 0, killed.stderr
    replacement = wait_for(lambda: [w for w in call(endpoint, "GET", "workers") if w["id"] != worker["id"]])
    assert replacement[0]["pool"] == "movers"
    assert call(endpoint, "GET", "pools")["movers"]["replaced"] == 1
    for i in range(5):
        s3.put_object(Bucket="media", Key=f"uploads/after-{i}.txt", Body=b"x")
    wait_for(lambda: len(processed_keys(s3)) == 6)


def test_killed_worker_loses_no_message(endpoint, upload_pipeline, advance) -> None:
    s3, sqs, url = upload_pipeline
    # A worker that receives one message and then hangs: killing it leaves that message in flight.
    grabber = [sys.executable, "-c",
               "import boto3, os, time; q = boto3.client('sqs');"
               "q.receive_message(QueueUrl=os.environ['QUEUE_URL'], WaitTimeSeconds=20); time.sleep(600)"]
    call(endpoint, "POST", "pools", {"name": "grabbers", "command": grabber, "min": 1, "max": 1,
                                     "drain_timeout": 1, "env": {"QUEUE_URL": url}})
    s3.put_object(Bucket="media", Key="uploads/precious.txt", Body=b"keep me")
    wait_for(lambda: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
             ["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "1")
    [worker] = call(endpoint, "GET", "workers")
    call(endpoint, "POST", f"workers/{worker['id']}/kill")
    call(endpoint, "DELETE", "pools/grabbers")
    advance(31)  # the dead worker's visibility timeout runs out; the message is waiting again
    call(endpoint, "POST", "pools", {"name": "movers", "queue": url, "min": 1, "max": 1, "drain_timeout": 2,
                                     "env": {"QUEUE_URL": url}})
    wait_for(lambda: processed_keys(s3) == {"processed/precious.txt"})


def test_target_tracking_scales_out_and_in(endpoint, client, advance) -> None:
    sqs = client("sqs")
    url = sqs.create_queue(QueueName="backlog")["QueueUrl"]
    for _ in range(5):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "job"} for i in range(10)])
    call(endpoint, "POST", "pools", {"name": "idle", "command": IDLE_WORKER, "queue": url, "min": 1, "max": 3,
                                     "target_backlog": 10, "warmup": 0, "scale_out_cooldown": 5,
                                     "scale_in_cooldown": 30, "drain_timeout": 5})
    assert len(call(endpoint, "GET", "workers")) == 1
    advance(1)  # one evaluation: 50 visible / target 10 -> 5, capped at max 3
    wait_for(lambda: len(call(endpoint, "GET", "workers")) == 3)
    assert call(endpoint, "GET", "pools")["idle"]["desired"] == 3
    sqs.purge_queue(QueueUrl=url)
    advance(10)  # still inside the scale-in cooldown
    assert call(endpoint, "GET", "pools")["idle"]["desired"] == 3
    advance(25)
    wait_for(lambda: len([w for w in call(endpoint, "GET", "workers") if w["state"] != "terminating"]) == 1)
    assert call(endpoint, "GET", "pools")["idle"]["desired"] == 1
    scaled = workers_cli(endpoint, "scale", "idle", "2")
    assert scaled.returncode == 0, scaled.stderr
    wait_for(lambda: len(call(endpoint, "GET", "workers")) == 2)
    refused = workers_cli(endpoint, "scale", "idle", "9")
    assert refused.returncode != 0 and "outside" in refused.stderr


def test_invalid_pool_is_refused(endpoint) -> None:
    import urllib.error

    with pytest.raises(urllib.error.HTTPError) as info:
        post_json(f"{endpoint}/_conveyor/pools", {"name": "bad", "min": 3, "max": 1})
    assert info.value.code == 400
