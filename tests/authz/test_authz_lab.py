"""The architecture's lab under `--iam enforce`, through `conveyor up`, the AWS CLI and the console; the
default pipeline under `--iam enforce`; and `--iam report`'s one line per call it would deny."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

from tests.conftest import CLI_ENV, run_aws
from tests.test_workers import wait_for

ACCOUNT = "000000000000"
BUCKET = "student-upload-bucket"
QUEUE_ARN = f"arn:aws:sqs:us-east-1:{ACCOUNT}:devops-sqs-queue"
DLQ_ARN = f"arn:aws:sqs:us-east-1:{ACCOUNT}:devops-sqs-dlq"
EC2_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
# The worker's role as a student first writes it: it forgot s3:DeleteObject on uploads/*.
WORKER_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/uploads/*"},
    {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": f"arn:aws:s3:::{BUCKET}/processed/*"},
    {"Effect": "Allow", "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
                                   "sqs:ChangeMessageVisibility"], "Resource": QUEUE_ARN}]}
LAB = f"""\
buckets:
  - name: {BUCKET}
    prefixes: [uploads/, processed/]
queues:
  - name: devops-sqs-queue
    visibility_timeout: 10
    dead_letter: {{queue: devops-sqs-dlq, max_receive_count: 3}}
  - name: devops-sqs-dlq
pools:
  - name: movers
    queue: devops-sqs-queue
    command: mover
    role: lab-worker
    min: 1
    max: 1
    warmup: 0
"""
# The queue policy S3 needs to deliver the bucket's events.
S3_MAY_SEND = {"Version": "2012-10-17", "Statement": [{
    "Sid": "s3", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sqs:SendMessage",
    "Resource": QUEUE_ARN, "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{BUCKET}"},
                                         "StringEquals": {"aws:SourceAccount": ACCOUNT}}}]}
NOTIFICATION = {"QueueConfigurations": [{"QueueArn": QUEUE_ARN, "Events": ["s3:ObjectCreated:*"],
                                         "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "uploads/"}]}}}]}


def _post(url: str, payload: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(url, data=json.dumps(payload or {}).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def _count(endpoint: str, queue: str) -> int:
    url = run_aws(endpoint, "sqs", "get-queue-url", "--queue-name", queue)["QueueUrl"]
    attributes = run_aws(endpoint, "sqs", "get-queue-attributes", "--queue-url", url, "--attribute-names", "All")
    counts = attributes["Attributes"]
    return int(counts["ApproximateNumberOfMessages"]) + int(counts["ApproximateNumberOfMessagesNotVisible"])


def _keys(endpoint: str) -> set[str]:
    listing = run_aws(endpoint, "s3api", "list-objects-v2", "--bucket", BUCKET) or {}
    return {o["Key"] for o in listing.get("Contents", []) if not o["Key"].endswith("/")}


def test_the_lab_under_iam_enforce(start_server: Any, tmp_path: Path) -> None:
    console = tmp_path / "console.txt"
    server = start_server(tmp_path / "data", "--iam", "enforce", "--clock", "manual", console=console)
    endpoint = server.endpoint

    def advance(seconds: float) -> None:
        _post(f"{endpoint}/_conveyor/clock", {"advance": seconds})

    (tmp_path / "trust.json").write_text(json.dumps(EC2_TRUST))
    (tmp_path / "worker.json").write_text(json.dumps(WORKER_POLICY))
    run_aws(endpoint, "iam", "create-role", "--role-name", "lab-worker", "--assume-role-policy-document",
            f"file://{tmp_path / 'trust.json'}")
    run_aws(endpoint, "iam", "put-role-policy", "--role-name", "lab-worker", "--policy-name", "worker",
            "--policy-document", f"file://{tmp_path / 'worker.json'}")
    (tmp_path / "lab.yaml").write_text(LAB)
    applied = subprocess.run([sys.executable, "-m", "conveyor.cli", "apply", "--pipeline", str(tmp_path / "lab.yaml"),
                              "--endpoint", endpoint], capture_output=True, text=True, timeout=60,
                             env=_environment())
    assert "created worker pool movers" in applied.stdout, applied.stdout + applied.stderr

    # An S3 -> SQS notification without the queue policy is refused...
    (tmp_path / "notification.json").write_text(json.dumps(NOTIFICATION))
    refused = run_aws(endpoint, "s3api", "put-bucket-notification-configuration", "--bucket", BUCKET,
                      "--notification-configuration", f"file://{tmp_path / 'notification.json'}", check=False)
    assert refused.returncode != 0
    assert "Unable to validate the following destination configurations" in refused.stderr.decode()
    # ... and works once the policy lets S3 send for this bucket.
    queue_url = run_aws(endpoint, "sqs", "get-queue-url", "--queue-name", "devops-sqs-queue")["QueueUrl"]
    (tmp_path / "attributes.json").write_text(json.dumps({"Policy": json.dumps(S3_MAY_SEND)}))
    run_aws(endpoint, "sqs", "set-queue-attributes", "--queue-url", queue_url, "--attributes",
            f"file://{tmp_path / 'attributes.json'}")
    run_aws(endpoint, "s3api", "put-bucket-notification-configuration", "--bucket", BUCKET,
            "--notification-configuration", f"file://{tmp_path / 'notification.json'}")
    wait_for(lambda: _count(endpoint, "devops-sqs-queue") == 0)  # the mover skipped S3's test event

    # The worker's role lacks s3:DeleteObject on uploads/*: it copies, then fails to delete, each try.
    (tmp_path / "photo.jpg").write_bytes(b"a photo")
    run_aws(endpoint, "s3", "cp", str(tmp_path / "photo.jpg"), f"s3://{BUCKET}/uploads/photo.jpg")
    failure = re.compile(r"movers-1 \| Failed: \S+: could not delete uploads/photo\.jpg: AccessDenied: User: "
                         rf"arn:aws:sts::{ACCOUNT}:assumed-role/lab-worker/movers-1 is not authorized to perform: "
                         rf's3:DeleteObject on resource: "arn:aws:s3:::{BUCKET}/uploads/photo.jpg" because no '
                         r"identity-based policy allows the s3:DeleteObject action")
    for tries in (1, 2, 3):
        wait_for(lambda tries=tries: len(failure.findall(console.read_text())) == tries)
        advance(11)  # the visibility timeout passes: the message is back
    # The fourth receive finds it received three times: it goes to the dead-letter queue.
    wait_for(lambda: _count(endpoint, "devops-sqs-dlq") == 1)
    assert _count(endpoint, "devops-sqs-queue") == 0
    assert _keys(endpoint) == {"uploads/photo.jpg", "processed/photo.jpg"}
    status = subprocess.run([sys.executable, "-m", "conveyor.cli", "status", "--endpoint", endpoint],
                            capture_output=True, text=True, timeout=60, env=_environment()).stdout
    assert "IAM (enforce): 3 denied" in status
    assert "s3.DeleteObjects: User: arn:aws:sts::" in status

    # `aws iam put-role-policy` adds the permission: the running worker may delete now, no restart.
    fixed = {**WORKER_POLICY, "Statement": [*WORKER_POLICY["Statement"], {
        "Effect": "Allow", "Action": "s3:DeleteObject", "Resource": f"arn:aws:s3:::{BUCKET}/uploads/*"}]}
    (tmp_path / "worker.json").write_text(json.dumps(fixed))
    run_aws(endpoint, "iam", "put-role-policy", "--role-name", "lab-worker", "--policy-name", "worker",
            "--policy-document", f"file://{tmp_path / 'worker.json'}")
    run_aws(endpoint, "s3", "cp", str(tmp_path / "photo.jpg"), f"s3://{BUCKET}/uploads/second.jpg")
    wait_for(lambda: "movers-1 | Moved to: processed/second.jpg" in console.read_text())
    # And the message in the dead-letter queue, redriven, is moved too.
    run_aws(endpoint, "sqs", "start-message-move-task", "--source-arn", DLQ_ARN)
    wait_for(lambda: "movers-1 | Moved to: processed/photo.jpg" in console.read_text() or advance(1))
    wait_for(lambda: _keys(endpoint) == {"processed/photo.jpg", "processed/second.jpg"})
    assert _count(endpoint, "devops-sqs-dlq") == 0


def _environment() -> dict[str, str]:
    return {**os.environ, **CLI_ENV}


def test_the_default_pipeline_under_iam_enforce(start_server: Any, tmp_path: Path) -> None:
    console = tmp_path / "console.txt"
    server = start_server(tmp_path / "data", "--with-pipeline", "--iam", "enforce", console=console)
    endpoint = server.endpoint
    presign = wait_for(lambda: re.search(r"endpoint: POST http://(\S+)(/prod/presign)", console.read_text()),
                       timeout=30)
    # A browser's upload: the presign function signs a PUT URL with its role's session (s3:PutObject on
    # uploads/* only), the mover moves it with its own (least privilege) role. (The API's host name,
    # API_ID.execute-api.localhost, is sent as Host: not every system resolves *.localhost.)
    asked = urllib.request.Request(endpoint + presign.group(2), data=b'{"filename": "photo.jpg"}', method="POST",
                                   headers={"Host": presign.group(1)})
    with urllib.request.urlopen(asked, timeout=30) as response:
        answer = json.load(response)
    request = urllib.request.Request(answer["uploadUrl"], data=b"a photo", method="PUT")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
    key = answer["s3Key"].removeprefix("uploads/")
    s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test",
                      region_name="us-east-1", config=BotoConfig(retries={"max_attempts": 1}))

    def keys() -> set[str]:
        return {o["Key"] for o in s3.list_objects_v2(Bucket="conveyor-uploads").get("Contents", [])}

    # The mover copies, then deletes the upload: both done means it moved (deleting needs its role too).
    wait_for(lambda: f"processed/{key}" in (found := keys()) and answer["s3Key"] not in found)
    denials = json.load(urllib.request.urlopen(f"{endpoint}/_conveyor/iam/denials"))
    assert denials == {"mode": "enforce", "denied": 0, "recent": []}
    policy = run_aws(endpoint, "iam", "get-role-policy", "--role-name", "conveyor-movers",
                     "--policy-name", "pipeline-access")["PolicyDocument"]
    assert {s["Sid"]: s["Resource"] for s in policy["Statement"]} == {
        "ReadAndRemoveUploads": ["arn:aws:s3:::conveyor-uploads/uploads/*"],
        "WriteResults": ["arn:aws:s3:::conveyor-uploads/processed/*"],
        "ConsumeQueue": f"arn:aws:sqs:us-east-1:{ACCOUNT}:upload-jobs"}


def test_iam_report_prints_one_line_per_call_it_would_deny(start_server: Any, tmp_path: Path) -> None:
    console = tmp_path / "console.txt"
    server = start_server(tmp_path / "data", "--iam", "report", console=console)
    root = server.client("iam")
    root.create_user(UserName="alice")
    key = root.create_access_key(UserName="alice")["AccessKey"]
    sqs_root = server.client("sqs")
    url = sqs_root.create_queue(QueueName="jobs")["QueueUrl"]
    alice = boto3.client("sqs", endpoint_url=server.endpoint, region_name="us-east-1",
                         aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                         config=BotoConfig(retries={"max_attempts": 1}))
    # Nothing is denied: the calls go through.
    alice.send_message(QueueUrl=url, MessageBody="one")
    alice.send_message_batch(QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "two"}])
    assert len(alice.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]) == 2
    sqs_root.get_queue_attributes(QueueUrl=url)  # the root user: nothing to report
    lines = wait_for(lambda: [line for line in console.read_text().splitlines()
                              if "iam report: would deny" in line] if console.read_text().count(
        "iam report: would deny") >= 3 else None)
    assert len(lines) == 3
    assert [re.search(r"would deny (\S+)", line).group(1) for line in lines] == [  # type: ignore[union-attr]
        "sqs.SendMessage", "sqs.SendMessageBatch", "sqs.ReceiveMessage"]
    assert lines[0].endswith(f"User: arn:aws:iam::{ACCOUNT}:user/alice is not authorized to perform: "
                             f"sqs:SendMessage on resource: arn:aws:sqs:us-east-1:{ACCOUNT}:jobs because no "
                             "identity-based policy allows the sqs:SendMessage action")
    denials = json.load(urllib.request.urlopen(f"{server.endpoint}/_conveyor/iam/denials"))
    assert denials["mode"] == "report" and denials["denied"] == 3
