"""The pipeline as a user meets it: `conveyor up` with the default or a custom conveyor.yaml."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conveyor.pipeline.spec import PipelineError, parse
from tests.conftest import run_aws
from tests.helpers import wait_for

POISON_PIPELINE = """
buckets:
  - name: inbox
    notifications:
      - {prefix: uploads/, queue: jobs}
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
    env: {FAIL_ON: poison}
"""


def conveyor(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "conveyor.cli", *args], capture_output=True, text=True,
                          timeout=60, cwd=cwd)


def test_default_pipeline_end_to_end_and_idempotent(start_server, tmp_path) -> None:
    data = tmp_path / "data"
    server = start_server(data, "--with-pipeline")
    s3 = server.client("s3")
    wait_for(lambda: conveyor("workers", "--json", "--endpoint", server.endpoint).stdout.count('"id"') == 1)
    # The movers run as the pool's role, which the pipeline made (an instance profile's role).
    [worker] = json.loads(conveyor("workers", "--json", "--endpoint", server.endpoint).stdout)
    assert worker["role_session"] == "arn:aws:sts::000000000000:assumed-role/conveyor-movers/movers-1"
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
    assert "RECENT ERRORS\n  (none)" in status.stdout  # applying the pipeline made no failed calls
    before = _resources(server)
    first_output = server.process.stdout
    assert server.stop() == 0
    console = first_output.read().decode()
    assert "created worker pool movers" in console
    assert "created role conveyor-movers for ec2 (pipeline-access) in an instance profile" in console
    # S3 accepts the bucket's notification only because the topic's policy now lets it publish.
    assert "created policy letting S3 (conveyor-uploads) deliver to topic upload-events" in console
    # The worker's own lines, as the lab's worker printed them in its terminal.
    assert "movers-1 | Processing: uploads/holiday photo.jpg" in console
    assert "movers-1 | Moved to: processed/holiday photo.jpg" in console

    again = start_server(data, "--with-pipeline")
    wait_for(lambda: b"nothing to change" in _read_available(again))
    applied = conveyor("apply", "--endpoint", again.endpoint)
    assert applied.returncode == 0 and "nothing to change" in applied.stdout
    assert _resources(again) == before  # no second subscription, notification, queue or pool
    [worker] = wait_for(lambda: [w for w in json.loads(conveyor("workers", "--json", "--endpoint",
                                                                 again.endpoint).stdout)])
    assert worker["pool"] == "movers"


def _resources(server) -> dict[str, object]:
    sqs, sns, s3 = server.client("sqs"), server.client("sns"), server.client("s3")
    topics = [t["TopicArn"] for t in sns.list_topics()["Topics"]]
    notification = s3.get_bucket_notification_configuration(Bucket="conveyor-uploads")
    notification.pop("ResponseMetadata")
    pools = json.load(urllib.request.urlopen(f"{server.endpoint}/_conveyor/pools"))
    return {"queues": sorted(u.rsplit("/", 1)[1] for u in sqs.list_queues()["QueueUrls"]), "topics": topics,
            "subscriptions": [(s["Protocol"], s["Endpoint"]) for t in topics
                              for s in sns.list_subscriptions_by_topic(TopicArn=t)["Subscriptions"]],
            "buckets": [b["Name"] for b in s3.list_buckets()["Buckets"]], "notification": notification,
            "pools": {name: (p["spec"]["command"], p["spec"]["min"], p["spec"]["max"]) for name, p in pools.items()},
            "topic policies": [sns.get_topic_attributes(TopicArn=t)["Attributes"]["Policy"] for t in topics]}


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
    sqs, s3 = server.client("sqs"), server.client("s3")
    url = wait_for(lambda: _queue_url(sqs, "jobs"))
    dlq_url = wait_for(lambda: _queue_url(sqs, "jobs-dlq"))
    wait_for(lambda: conveyor("workers", "--json", "--endpoint", server.endpoint).stdout.count('"id"') == 1)
    poison = tmp_path / "poison.txt"
    poison.write_text("the worker has a bug for this one")
    run_aws(server.endpoint, "s3", "cp", str(poison), "s3://inbox/uploads/poison.txt")
    depth = lambda u: int(sqs.get_queue_attributes(QueueUrl=u, AttributeNames=["ApproximateNumberOfMessages"])  # noqa: E731
                          ["Attributes"]["ApproximateNumberOfMessages"])
    wait_for(lambda: depth(dlq_url) == 1, timeout=30)  # three receives, three failures, then the DLQ
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    refused = conveyor("workers", "scale", "movers", "0", "--endpoint", server.endpoint)
    assert refused.returncode != 0 and "outside [1, 1]" in refused.stderr
    # Deploy the fix: retire the buggy pool, apply the pipeline without the bug; then redrive.
    urllib.request.urlopen(urllib.request.Request(f"{server.endpoint}/_conveyor/pools/movers", method="DELETE"))
    pipeline.write_text(POISON_PIPELINE.replace("    env: {FAIL_ON: poison}\n", ""))
    applied = conveyor("apply", "--pipeline", str(pipeline), "--endpoint", server.endpoint)
    assert "created worker pool movers" in applied.stdout, applied.stdout + applied.stderr
    task = run_aws(server.endpoint, "sqs", "start-message-move-task", "--source-arn", dlq_arn)
    assert task["TaskHandle"]
    wait_for(lambda: "processed/poison.txt" in {o["Key"] for o in s3.list_objects_v2(Bucket="inbox").get("Contents", [])})
    wait_for(lambda: depth(dlq_url) == 0 and depth(url) == 0)
    tasks = run_aws(server.endpoint, "sqs", "list-message-move-tasks", "--source-arn", dlq_arn)["Results"]
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
    # The commented-out function example is a working one.
    start = text.index("# functions:")
    example = text[:start] + "\n".join(line[2:] for line in text[start:].splitlines())
    [function] = parse(example).functions
    assert (function.name, function.handler, function.queue, function.maximum_concurrency) == (
        "mover", "mover.lambda_handler", "upload-jobs", 4)


@pytest.mark.parametrize(("text", "line", "words"), [
    ("queues:\n  - name: jobs\n    visibilty_timeout: 30\n", 3, "unknown setting 'visibilty_timeout'"),
    ("queues:\n  - name: jobs\n    dead_letter: {queue: nowhere}\n", 2, "queue 'nowhere' is not defined"),
    ("queues:\n  - name: jobs\n  name: other\n", 3, "invalid YAML"),
    ("pools:\n  - name: p\n    min: 5\n    max: 2\n", 3, "min (5) is larger than max (2)"),
    ("functions:\n  - name: f\n    code: src/\n", 2, "'handler' is required"),
    ("buckets:\n  - name: b\n    notifications:\n      - {events: [s3:ObjectMade], queue: q}\n", 4,
     "is not an S3 event type"),
    ("queues:\n  - name: jobs.fifo\n", 2, "FIFO queue's name ends with .fifo"),
    ("topics:\n  - name: t\n    subscriptions:\n      - function: f\n        raw: true\n", 5,
     "raw message delivery is for queues"),
    ("queues:\n  - name: q\nregion: Ohio\n", 3, "region 'Ohio' is not a region name"),
    ("pools:\n  - name: p\n    command: python3 no-such-worker.py\n", 3,
     "the script no-such-worker.py does not exist"),
    ("pools:\n  - name: p\n    command: [python3, -u, no-such-worker.py]\n", 3, "no-such-worker.py does not exist"),
    ("pools:\n  - name: p\n    command: ./no-such-worker.sh\n", 3, "./no-such-worker.sh does not exist"),
    ("pools:\n  - name: p\n    command: no-such-program --queue jobs\n", 3,
     "'no-such-program' is not a program on this machine's PATH"),
    ("queues:\n  - name: q\ntopics:\n  - name: t\nalarms:\n  - name: a\n    queue: q\n    topic: t\n"
     "    threshold: lots\n", 9, "threshold must be int or float, not 'lots'"),
])
def test_invalid_pipeline_errors_name_the_line(text: str, line: int, words: str) -> None:
    with pytest.raises(PipelineError) as info:
        parse(text, "conveyor.yaml")
    assert str(info.value).startswith(f"conveyor.yaml:{line}: ") and words in str(info.value)


def test_apply_on_a_running_server_creates_what_is_missing_and_reports_drift(endpoint, aws, tmp_path) -> None:
    pipeline = tmp_path / "conveyor.yaml"
    pipeline.write_text("queues:\n  - name: jobs\n    visibility_timeout: 30\n")
    first = conveyor("apply", "--pipeline", str(pipeline), "--endpoint", endpoint)
    # The environment's region (the tests' AWS_DEFAULT_REGION), as the user's own AWS CLI would use.
    assert first.stdout.splitlines() == ["applying in us-east-1", "created queue jobs"], first.stderr
    url = aws("sqs", "get-queue-url", "--queue-name", "jobs")["QueueUrl"]
    aws("sqs", "set-queue-attributes", "--queue-url", url, "--attributes", "VisibilityTimeout=99")
    pipeline.write_text("queues:\n  - name: jobs\n    visibility_timeout: 30\n  - name: extra\n")
    second = conveyor("apply", "--pipeline", str(pipeline), "--endpoint", endpoint)
    assert second.returncode == 0, second.stderr
    assert second.stdout.splitlines() == [
        "applying in us-east-1", "created queue extra", "drift: queue jobs: VisibilityTimeout is '99', the pipeline says '30'"]
    # Drift is reported, never overwritten: the user decides.
    assert aws("sqs", "get-queue-attributes", "--queue-url", url, "--attribute-names", "VisibilityTimeout")[
        "Attributes"]["VisibilityTimeout"] == "99"


FUNCTION_PIPELINE = """
buckets:
  - name: fn-uploads       # S3 -> SNS -> SQS -> the function (an event source mapping)
    prefixes: [uploads/, processed/]
    notifications:
      - {prefix: uploads/, topic: fn-events}
  - name: fn-direct        # S3 -> the function
    notifications:
      - {prefix: uploads/, function: mover}
  - name: fn-via-sns       # S3 -> SNS -> the function
    notifications:
      - {prefix: uploads/, topic: fn-notify}
topics:
  - name: fn-events
    subscriptions: [{queue: fn-jobs}]
  - name: fn-notify
    subscriptions: [{function: mover}]
queues:
  - name: fn-jobs
    visibility_timeout: 60
    dead_letter: {queue: fn-jobs-dlq}
  - name: fn-jobs-dlq
functions:
  - name: mover
    code: mover          # the built-in mover, as a function (handler mover.lambda_handler)
    queue: fn-jobs       # an SQS event source mapping
    batch_size: 5
    maximum_concurrency: 2
"""


def test_functions_with_event_source_mappings(endpoint, aws, client, tmp_path) -> None:
    pipeline = tmp_path / "conveyor.yaml"
    pipeline.write_text(FUNCTION_PIPELINE)
    applied = conveyor("apply", "--pipeline", str(pipeline), "--endpoint", endpoint)
    assert "created function mover" in applied.stdout, applied.stdout + applied.stderr
    assert ("created role mover-role for lambda (AWSLambdaBasicExecutionRole, AWSLambdaSQSQueueExecutionRole, "
            "pipeline-access)") in applied.stdout
    assert "created event source mapping fn-jobs -> mover" in applied.stdout
    # S3 and SNS may invoke it only with a resource policy that says so: the pipeline grants it.
    assert "created permission for S3 (arn:aws:s3:::fn-direct) to invoke mover" in applied.stdout
    assert "created permission for SNS (arn:aws:sns:us-east-1:000000000000:fn-notify) to invoke mover" in applied.stdout
    [mapping] = aws("lambda", "list-event-source-mappings", "--function-name", "mover")["EventSourceMappings"]
    assert mapping["BatchSize"] == 5 and mapping["ScalingConfig"] == {"MaximumConcurrency": 2}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    s3 = client("s3")
    for bucket in ("fn-uploads", "fn-direct", "fn-via-sns"):
        for name in ("a photo.jpg", "b.txt"):
            (tmp_path / name).write_bytes(name.encode())
            aws("s3", "cp", str(tmp_path / name), f"s3://{bucket}/uploads/{name}")

    def keys(bucket: str) -> set[str]:
        return {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []) if not o["Key"].endswith("/")}

    for bucket in ("fn-uploads", "fn-direct", "fn-via-sns"):
        wait_for(lambda bucket=bucket: keys(bucket) == {"processed/a photo.jpg", "processed/b.txt"})
    status = conveyor("status", "--endpoint", endpoint).stdout
    assert "mover (python3.12): " in status and "at most 2), " in status
    assert "<- fn-jobs: concurrency" in status and ", 0 failed" in status  # the s3:TestEvent is skipped
    logs = conveyor("logs", "mover", "--endpoint", endpoint).stdout
    assert "Moved to: processed/a photo.jpg" in logs
    again = conveyor("apply", "--pipeline", str(pipeline), "--endpoint", endpoint)
    assert again.stdout.strip() == "pipeline up to date in us-east-1: nothing to change", again.stdout + again.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux") or shutil.which("setpriv") is None,
                    reason="workers learn of the server's death through setpriv --pdeathsig (util-linux)")
def test_workers_die_with_the_server(start_server, tmp_path) -> None:
    pipeline = tmp_path / "conveyor.yaml"
    # A worker that never talks to the server: only the parent-death signal can stop it.
    sleeper = json.dumps([sys.executable, "-c", "import time; time.sleep(600)"])
    pipeline.write_text(f"queues:\n  - name: jobs\npools:\n  - {{name: sleepers, queue: jobs, command: {sleeper}}}\n")
    server = start_server(tmp_path / "data", "--pipeline", str(pipeline))
    [worker] = wait_for(lambda: json.loads(conveyor("workers", "--json", "--endpoint", server.endpoint).stdout))
    server.kill()  # SIGKILL: the server cannot stop its workers itself

    def gone() -> bool:
        try:
            with open(f"/proc/{worker['pid']}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] == "Z"  # exited, waiting to be reaped
        except OSError:
            return True

    wait_for(gone, timeout=30)


def test_a_package_is_named_by_its_content_not_by_file_times(tmp_path: Path) -> None:
    """The same files zip to the same bytes (so `conveyor export` names a package by its hash, and an
    unchanged function is not redeployed); an executable bit is kept."""
    import os
    import zipfile

    from conveyor.pipeline.apply import zip_code

    code = tmp_path / "fn"
    code.mkdir()
    (code / "handler.py").write_text("def handler(event, context):\n    return 1\n")
    (code / "run.sh").write_text("#!/bin/sh\n")
    (code / "run.sh").chmod(0o755)
    first = zip_code("fn", tmp_path)
    os.utime(code / "handler.py", (1_000_000_000, 1_000_000_000))
    assert zip_code("fn", tmp_path) == first
    (code / "handler.py").write_text("def handler(event, context):\n    return 2\n")
    assert zip_code("fn", tmp_path) != first
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert archive.namelist() == ["handler.py", "run.sh"]
        assert (archive.getinfo("run.sh").external_attr >> 16) & 0o777 == 0o755
