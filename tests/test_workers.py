"""Worker pools through the real interfaces: the built-in mover, self-healing, target tracking."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import post_json
from tests.helpers import wait_for as wait_for  # importable here too, where it used to live

IDLE_WORKER = [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, lambda *a: exit(0)); time.sleep(600)"]
# Writes its environment when it starts and a line when it gets SIGTERM, then exits.
REPORTING_WORKER = [sys.executable, "-c", """
import json, os, signal, sys, time
out = os.environ["REPORT_DIR"] + "/" + os.environ["CONVEYOR_WORKER_ID"]
with open(out + ".env", "w") as f:
    json.dump(dict(os.environ), f)
def bye(*_):
    open(out + ".sigterm", "w").close()
    sys.exit(0)
signal.signal(signal.SIGTERM, bye)
time.sleep(600)
"""]
# Keeps its heartbeat file fresh in real time, as a healthy worker does.
BEATING_WORKER = [sys.executable, "-c", """
import os, time
path = os.environ["CONVEYOR_HEARTBEAT_FILE"]
while True:
    with open(path, "w") as f:
        f.write("0")
    time.sleep(0.1)
"""]


def call(endpoint: str, method: str, path: str, payload: dict | None = None) -> Any:
    import urllib.request

    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(f"{endpoint}/_conveyor/{path}", data=data, method=method)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def workers_cli(endpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "conveyor.cli", "workers", "--endpoint", endpoint, *args],
                          capture_output=True, text=True, timeout=30)


def live_workers(endpoint: str, pool: str | None = None) -> list[dict[str, Any]]:
    return [w for w in call(endpoint, "GET", "workers")
            if w["state"] != "terminating" and (pool is None or w["pool"] == pool)]


@pytest.fixture
def upload_pipeline(client) -> tuple[Any, Any, str]:
    s3, sqs = client("s3"), client("sqs")
    s3.create_bucket(Bucket="media")
    url = sqs.create_queue(QueueName="uploads")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({"Statement": [{
        "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sqs:SendMessage", "Resource": arn,
        "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::media"}}}]})})
    s3.put_bucket_notification_configuration(Bucket="media", NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"],
                                 "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "uploads/"}]}}}]})
    # The s3:TestEvent is delivered asynchronously: wait for it, then drop it.
    test_event = wait_for(lambda: sqs.receive_message(QueueUrl=url).get("Messages"))
    for message in test_event:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return s3, sqs, url


def processed_keys(s3) -> set[str]:
    keys = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="media", Prefix="processed/"):
        keys.update(o["Key"] for o in page.get("Contents", []))
    return keys


def counts(sqs, url: str) -> tuple[int, int]:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]), int(attrs["ApproximateNumberOfMessagesNotVisible"])


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
    log = Path(call(endpoint, "GET", "pools")["movers"]["log"])
    # What the seed's worker printed in its terminal, prefixed with the worker's id.
    wait_for(lambda: f"{worker['id']} | Moved to: processed/cat photo.jpg" in log.read_text())
    assert f"{worker['id']} | Processing: uploads/cat photo.jpg" in log.read_text()

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


def test_sigkilled_worker_loses_no_message_and_is_replaced(endpoint, upload_pipeline, aws, advance,
                                                           tmp_path) -> None:
    s3, sqs, url = upload_pipeline
    # WORK_SECONDS keeps the mover busy with the message, so the kill catches it in flight.
    call(endpoint, "POST", "pools", {"name": "movers", "queue": url, "min": 1, "max": 1, "drain_timeout": 2,
                                     "env": {"QUEUE_URL": url, "WORK_SECONDS": "3"}})
    [victim] = wait_for(lambda: live_workers(endpoint))
    source = tmp_path / "precious.txt"
    source.write_bytes(b"keep me")
    aws("s3", "cp", str(source), "s3://media/uploads/precious.txt")
    wait_for(lambda: counts(sqs, url) == (0, 1))  # received: invisible while the worker works on it
    os.kill(victim["pid"], signal.SIGKILL)  # `kill -9`, from outside, as the seed's lab does with pkill
    [replacement] = wait_for(lambda: [w for w in live_workers(endpoint) if w["id"] != victim["id"]])
    assert call(endpoint, "GET", "pools")["movers"]["replaced"] == 1
    assert counts(sqs, url) == (0, 1)  # nobody may see it before its visibility timeout ends
    advance(31)  # the dead worker's visibility timeout (30 s) runs out: the message is waiting again
    wait_for(lambda: processed_keys(s3) == {"processed/precious.txt"})
    assert s3.get_object(Bucket="media", Key="processed/precious.txt")["Body"].read() == b"keep me"
    wait_for(lambda: counts(sqs, url) == (0, 0))
    assert [w["id"] for w in live_workers(endpoint)] == [replacement["id"]]


def test_repeated_delivery_is_idempotent_and_failures_stay(endpoint, upload_pipeline, advance) -> None:
    s3, sqs, url = upload_pipeline
    call(endpoint, "POST", "pools", {"name": "movers", "queue": url, "min": 1, "max": 1, "drain_timeout": 2,
                                     "env": {"QUEUE_URL": url}})
    s3.put_object(Bucket="media", Key="uploads/once.txt", Body=b"1")
    wait_for(lambda: processed_keys(s3) == {"processed/once.txt"})
    wait_for(lambda: counts(sqs, url) == (0, 0))

    def event(key: str) -> str:
        return json.dumps({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                                        "s3": {"bucket": {"name": "media"}, "object": {"key": key}}}]})

    # SQS delivers at least once: the same event again is a completed move, not a failure.
    sqs.send_message(QueueUrl=url, MessageBody=event("uploads/once.txt"))
    wait_for(lambda: counts(sqs, url) == (0, 0))
    # An object that never existed cannot be moved: its message stays (and would reach a DLQ).
    sqs.send_message(QueueUrl=url, MessageBody=event("uploads/never.txt"))
    wait_for(lambda: counts(sqs, url) == (0, 1))
    assert processed_keys(s3) == {"processed/once.txt"}


def test_500_uploads_scale_out_to_max_and_back_to_min(endpoint, upload_pipeline, advance, tmp_path) -> None:
    s3, sqs, url = upload_pipeline
    # Simulated work per file keeps one worker slower than the AWS CLI's uploads: the backlog builds.
    call(endpoint, "POST", "pools", {"name": "movers", "queue": url, "min": 1, "max": 4, "target_backlog": 10,
                                     "warmup": 0, "scale_out_cooldown": 1, "scale_in_cooldown": 30,
                                     "drain_timeout": 2, "env": {"QUEUE_URL": url, "WORK_SECONDS": "0.03"}})
    batch = tmp_path / "batch"
    batch.mkdir()
    for i in range(500):
        (batch / f"file-{i:03}.txt").write_bytes(b"%d" % i)
    upload = subprocess.Popen(["aws", "--endpoint-url", endpoint, "s3", "cp", "--recursive", "--only-show-errors",
                               str(batch), "s3://media/uploads/"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    peak = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        advance(1)  # one evaluation period of the pool
        peak = max(peak, call(endpoint, "GET", "pools")["movers"]["desired"], len(live_workers(endpoint)))
        if upload.poll() is not None and len(processed_keys(s3)) == 500:
            break
        time.sleep(0.3)
    output, _ = upload.communicate(timeout=10)  # and closes the pipe
    assert upload.returncode == 0, output
    assert len(processed_keys(s3)) == 500 and peak == 4
    assert "Contents" not in s3.list_objects_v2(Bucket="media", Prefix="uploads/")
    advance(30)  # the backlog is gone and the scale-in cooldown has passed

    def back_to_min() -> bool:
        # Evaluations run as tasks the clock starts, possibly after `advance` has answered.
        advance(1)
        return call(endpoint, "GET", "pools")["movers"]["desired"] == 1

    wait_for(back_to_min)

    def scaled_in() -> bool:
        advance(3)  # ends the parked long polls, so the SIGTERMed movers can finish and exit
        return len(call(endpoint, "GET", "workers")) == 1

    wait_for(scaled_in)
    assert call(endpoint, "GET", "pools")["movers"]["replaced"] == 0  # scale-in is not a crash


def test_target_tracking_scales_out_and_in(endpoint, client, advance, tmp_path) -> None:
    sqs = client("sqs")
    url = sqs.create_queue(QueueName="backlog")["QueueUrl"]
    for _ in range(5):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "job"} for i in range(10)])
    call(endpoint, "POST", "pools", {"name": "idle", "command": REPORTING_WORKER, "queue": url, "min": 1, "max": 3,
                                     "target_backlog": 10, "warmup": 0, "scale_out_cooldown": 5,
                                     "scale_in_cooldown": 30, "drain_timeout": 5,
                                     "env": {"REPORT_DIR": str(tmp_path)}})
    assert len(call(endpoint, "GET", "workers")) == 1
    advance(1)  # one evaluation: 50 visible / target 10 -> 5, capped at max 3
    wait_for(lambda: len(call(endpoint, "GET", "workers")) == 3)
    assert call(endpoint, "GET", "pools")["idle"]["desired"] == 3
    wait_for(lambda: len(list(tmp_path.glob("*.env"))) == 3)  # all three are running (handlers installed)
    sqs.purge_queue(QueueUrl=url)
    advance(10)  # still inside the scale-in cooldown
    assert call(endpoint, "GET", "pools")["idle"]["desired"] == 3
    advance(25)
    wait_for(lambda: len(call(endpoint, "GET", "workers")) == 1)
    assert call(endpoint, "GET", "pools")["idle"]["desired"] == 1
    # Scale-in is graceful: the two newest got SIGTERM (and could finish), the oldest stayed.
    [kept] = call(endpoint, "GET", "workers")
    stopped = sorted(p.name.removesuffix(".sigterm") for p in tmp_path.glob("*.sigterm"))
    assert len(stopped) == 2 and kept["id"] not in stopped
    # Every worker gets the endpoint, region and credentials (boto3 and the AWS CLI v2 read them).
    env = json.loads((tmp_path / f"{kept['id']}.env").read_text())
    assert env["AWS_ENDPOINT_URL"] == endpoint and env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_ACCESS_KEY_ID"] == "test" and env["AWS_SECRET_ACCESS_KEY"] == "test"
    assert env["CONVEYOR_WORKER_ID"] == kept["id"] and env["REPORT_DIR"] == str(tmp_path)

    scaled = workers_cli(endpoint, "scale", "idle", "2")
    assert scaled.returncode == 0, scaled.stderr
    wait_for(lambda: len(call(endpoint, "GET", "workers")) == 2)
    refused = workers_cli(endpoint, "scale", "idle", "9")
    assert refused.returncode != 0 and "outside" in refused.stderr


def test_stale_heartbeat_is_replaced_after_grace(endpoint, advance) -> None:
    common = {"min": 1, "max": 1, "warmup": 0, "grace": 5, "heartbeat_timeout": 1, "drain_timeout": 2}
    call(endpoint, "POST", "pools", {"name": "silent", "command": IDLE_WORKER, **common})
    call(endpoint, "POST", "pools", {"name": "beating", "command": BEATING_WORKER, **common})
    [silent] = live_workers(endpoint, "silent")
    [beating] = wait_for(lambda: live_workers(endpoint, "beating"))
    time.sleep(1.5)  # real time: the silent worker's heartbeat is older than heartbeat_timeout
    advance(3)  # inside the grace period: a worker may take its time to start beating
    assert call(endpoint, "GET", "pools")["silent"]["replaced"] == 0
    advance(3)  # past the grace period: the silent worker fails its health check
    replacement = wait_for(lambda: [w for w in live_workers(endpoint, "silent") if w["id"] != silent["id"]])
    assert replacement and call(endpoint, "GET", "pools")["silent"]["replaced"] == 1
    assert any("failed its health check" in e for e in call(endpoint, "GET", "pools")["silent"]["events"])
    assert [w["id"] for w in live_workers(endpoint, "beating")] == [beating["id"]]


def test_crash_loop_backs_off(endpoint) -> None:
    call(endpoint, "POST", "pools", {"name": "crashing", "command": [sys.executable, "-c", "raise SystemExit(3)"],
                                     "min": 1, "max": 1, "warmup": 0})
    time.sleep(2)
    replaced = call(endpoint, "GET", "pools")["crashing"]["replaced"]
    assert 1 <= replaced <= 8  # without a back-off it would be dozens
    assert any("crash loop" in e for e in call(endpoint, "GET", "pools")["crashing"]["events"])


def test_invalid_pool_is_refused(endpoint) -> None:
    import urllib.error

    with pytest.raises(urllib.error.HTTPError) as info:
        post_json(f"{endpoint}/_conveyor/pools", {"name": "bad", "min": 3, "max": 1})
    assert info.value.code == 400
    with pytest.raises(urllib.error.HTTPError) as info:
        post_json(f"{endpoint}/_conveyor/pools", {"name": "typo", "command": ["no-such-worker-command"]})
    assert info.value.code == 400 and "no-such-worker-command" in info.value.read().decode()


def test_a_reader_that_leaves_early_gets_no_traceback(endpoint: str) -> None:
    """`conveyor workers | head -1`: the pipe's reader is gone before the command writes."""
    post_json(f"{endpoint}/_conveyor/pools", {"name": "piped", "command": IDLE_WORKER, "min": 1, "max": 1})
    process = subprocess.Popen([sys.executable, "-m", "conveyor.cli", "workers", "--endpoint", endpoint],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # before it has written anything: it needs far longer than this to start
    error = process.stderr.read().decode()
    process.stderr.close()
    assert process.wait(60) == 141, error
    assert error == ""


# Prints 40 bursts of 10 numbered lines, 10 ms apart, each line flushed on its own (as the mover prints).
STEADY_PRINTER = [sys.executable, "-c", """
import time
for burst in range(40):
    for i in range(10):
        print(f"line {burst * 10 + i}", flush=True)
    time.sleep(0.01)
time.sleep(600)
"""]


def test_a_steadily_printing_worker_is_stored_whole_in_few_commits(start_server, tmp_path: Path) -> None:
    """Every line reaches the worker's CloudWatch Logs stream in order, but a worker that keeps printing
    costs at most one log commit per flush interval, not one per burst: each commit stamps its events with
    one ingestion time, so the distinct ingestion times count the commits (on a real clock)."""
    from conveyor.services.logs.sink import FLUSH_INTERVAL

    server = start_server(None, console=tmp_path / "console.log")
    post_json(f"{server.endpoint}/_conveyor/pools", {"name": "printers", "command": STEADY_PRINTER, "min": 1, "max": 1})
    logs = server.client("logs")
    [worker] = wait_for(lambda: live_workers(server.endpoint, "printers"))

    def stored() -> list[dict[str, Any]]:
        try:
            return logs.get_log_events(logGroupName="/conveyor/pools/printers", logStreamName=worker["id"],
                                       startFromHead=True)["events"]
        except logs.exceptions.ResourceNotFoundException:
            return []

    events = wait_for(lambda: len(found := stored()) == 400 and found, timeout=30)
    assert [e["message"] for e in events] == [f"line {n}" for n in range(400)]
    ingested = sorted({e["ingestionTime"] for e in events})
    span = (ingested[-1] - ingested[0]) / 1000
    assert len(ingested) <= span / FLUSH_INTERVAL + 2, (len(ingested), span)
