"""Every resource lives in the region of the request that made it: the AWS CLI in us-east-2, as the labs run."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CLI_ENV, LAMBDA_TRUST
from tests.helpers import wait_for
from tests.test_workers import call


def aws_in(endpoint: str, region: str, *args: str, check: bool = True) -> Any:
    """The AWS CLI with AWS_DEFAULT_REGION=region (as `export AWS_DEFAULT_REGION=us-east-2` would set it)."""
    env = {**os.environ, **CLI_ENV, "AWS_DEFAULT_REGION": region}
    result = subprocess.run(["aws", "--endpoint-url", endpoint, "--output", "json", *args], capture_output=True,
                            text=True, env=env, timeout=120)
    if not check:
        return result
    assert result.returncode == 0, f"aws {' '.join(args)}: {result.stderr}"
    try:
        return json.loads(result.stdout) if result.stdout.strip() else None
    except ValueError:  # `aws s3 ...` prints text
        return result.stdout


def test_queues_are_per_region_and_their_urls_say_which(endpoint: str) -> None:
    ohio = aws_in(endpoint, "us-east-2", "sqs", "create-queue", "--queue-name", "jobs")["QueueUrl"]
    virginia = aws_in(endpoint, "us-east-1", "sqs", "create-queue", "--queue-name", "jobs")["QueueUrl"]
    assert ohio == f"{endpoint}/queue/us-east-2/000000000000/jobs"
    assert virginia == f"{endpoint}/queue/us-east-1/000000000000/jobs"
    arn = aws_in(endpoint, "us-east-2", "sqs", "get-queue-attributes", "--queue-url", ohio,
                 "--attribute-names", "QueueArn")["Attributes"]["QueueArn"]
    assert arn == "arn:aws:sqs:us-east-2:000000000000:jobs"
    assert aws_in(endpoint, "us-east-2", "sqs", "list-queues")["QueueUrls"] == [ohio]
    assert aws_in(endpoint, "us-east-2", "sqs", "get-queue-url", "--queue-name", "jobs")["QueueUrl"] == ohio

    aws_in(endpoint, "us-east-2", "sqs", "send-message", "--queue-url", ohio, "--message-body", "to ohio")
    # A URL names its queue whatever region the caller's profile says: the message is in Ohio only.
    got = aws_in(endpoint, "us-east-1", "sqs", "receive-message", "--queue-url", ohio)
    assert [m["Body"] for m in got["Messages"]] == ["to ohio"]
    assert aws_in(endpoint, "us-east-1", "sqs", "receive-message", "--queue-url", virginia) is None
    # The lab's own URL form names the Ohio queue too; the old region-less form, the caller's region's.
    aws_in(endpoint, "us-east-2", "sqs", "send-message", "--queue-url",
           "https://sqs.us-east-2.amazonaws.com/000000000000/jobs", "--message-body", "lab url")
    aws_in(endpoint, "us-east-2", "sqs", "send-message", "--queue-url", f"{endpoint}/000000000000/jobs",
           "--message-body", "old url")
    # LocalStack's form names its region in the host, too.
    aws_in(endpoint, "us-east-1", "sqs", "send-message", "--queue-url",
           "http://sqs.us-east-2.localhost.localstack.cloud:4566/000000000000/jobs", "--message-body", "ls url")
    attrs = aws_in(endpoint, "us-east-2", "sqs", "get-queue-attributes", "--queue-url", ohio,
                   "--attribute-names", "ApproximateNumberOfMessages")["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "3"


def test_query_clients_may_post_to_a_regional_queue_url(endpoint: str) -> None:
    import boto3
    import requests

    ohio = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-2", aws_access_key_id="test",
                        aws_secret_access_key="test")
    url = ohio.create_queue(QueueName="legacy")["QueueUrl"]
    # The legacy query style: an unsigned form POSTed to the queue URL itself, no QueueUrl parameter.
    sent = requests.post(url, data={"Action": "SendMessage", "MessageBody": "hi", "Version": "2012-11-05"},
                         timeout=10)
    assert sent.status_code == 200 and "<MessageId>" in sent.text
    assert ohio.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "hi"


def test_topics_are_per_region(endpoint: str) -> None:
    arn = aws_in(endpoint, "us-east-2", "sns", "create-topic", "--name", "events")["TopicArn"]
    assert arn == "arn:aws:sns:us-east-2:000000000000:events"
    assert [t["TopicArn"] for t in aws_in(endpoint, "us-east-2", "sns", "list-topics")["Topics"]] == [arn]
    assert aws_in(endpoint, "us-east-1", "sns", "list-topics")["Topics"] == []


def test_buckets_live_in_their_location_and_events_say_so(endpoint: str, tmp_path: Path) -> None:
    aws_in(endpoint, "us-east-2", "s3", "mb", "s3://ohio-photos")  # the CLI sends LocationConstraint
    assert aws_in(endpoint, "us-east-2", "s3api", "get-bucket-location",
                  "--bucket", "ohio-photos")["LocationConstraint"] == "us-east-2"
    # As on AWS: a regional endpoint needs the matching constraint, and us-east-1 is never named.
    bare = aws_in(endpoint, "us-east-2", "s3api", "create-bucket", "--bucket", "no-constraint", check=False)
    assert bare.returncode != 0 and "IllegalLocationConstraintException" in bare.stderr
    assert "unspecified location constraint is incompatible" in bare.stderr
    other = aws_in(endpoint, "us-east-2", "s3api", "create-bucket", "--bucket", "elsewhere",
                   "--create-bucket-configuration", "LocationConstraint=eu-west-1", check=False)
    assert other.returncode != 0 and "The eu-west-1 location constraint is incompatible" in other.stderr
    named = aws_in(endpoint, "us-east-1", "s3api", "create-bucket", "--bucket", "named-east",
                   "--create-bucket-configuration", "LocationConstraint=us-east-1", check=False)
    assert named.returncode != 0 and "InvalidLocationConstraint" in named.stderr

    url = aws_in(endpoint, "us-east-2", "sqs", "create-queue", "--queue-name", "ohio-events")["QueueUrl"]
    arn = aws_in(endpoint, "us-east-2", "sqs", "get-queue-attributes", "--queue-url", url,
                 "--attribute-names", "QueueArn")["Attributes"]["QueueArn"]
    # The queue lets S3 send for this bucket, as the lab's queue policy does (S3 checks it).
    policy = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
                             "Action": "sqs:SendMessage", "Resource": arn,
                             "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::ohio-photos"}}}]}
    attributes = tmp_path / "attributes.json"
    attributes.write_text(json.dumps({"Policy": json.dumps(policy)}))
    aws_in(endpoint, "us-east-2", "sqs", "set-queue-attributes", "--queue-url", url,
           "--attributes", f"file://{attributes}")
    config = {"QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]}
    aws_in(endpoint, "us-east-2", "s3api", "put-bucket-notification-configuration", "--bucket", "ohio-photos",
           "--notification-configuration", json.dumps(config))
    source = tmp_path / "cat.jpg"
    source.write_bytes(b"meow")
    aws_in(endpoint, "us-east-2", "s3", "cp", str(source), "s3://ohio-photos/uploads/cat.jpg")

    def records() -> list[dict[str, Any]]:
        got = aws_in(endpoint, "us-east-2", "sqs", "receive-message", "--queue-url", url,
                     "--max-number-of-messages", "10") or {}
        return [r for message in got.get("Messages", []) for r in json.loads(message["Body"]).get("Records", [])]

    assert [r["awsRegion"] for r in wait_for(records, timeout=20, what="the event")] == ["us-east-2"]


REGION_REPORTER = """
import os
def lambda_handler(event, context):
    return {"AWS_REGION": os.environ["AWS_REGION"], "AWS_DEFAULT_REGION": os.environ["AWS_DEFAULT_REGION"],
            "arn": context.invoked_function_arn}
"""


def test_functions_live_in_the_region_that_created_them(endpoint: str, tmp_path: Path) -> None:
    aws_in(endpoint, "us-east-2", "iam", "create-role", "--role-name", "r", "--assume-role-policy-document",
           LAMBDA_TRUST)  # IAM is global: the role serves functions of every region
    package = tmp_path / "function.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("lambda_function.py", REGION_REPORTER)
    package.write_bytes(buffer.getvalue())
    create = ("lambda", "create-function", "--function-name", "where", "--runtime", "python3.12",
              "--handler", "lambda_function.lambda_handler", "--role", "arn:aws:iam::000000000000:role/r",
              "--zip-file", f"fileb://{package}")
    created = aws_in(endpoint, "us-east-2", *create)
    assert created["FunctionArn"] == "arn:aws:lambda:us-east-2:000000000000:function:where"
    out = tmp_path / "out.json"
    aws_in(endpoint, "us-east-2", "lambda", "invoke", "--function-name", "where", str(out))
    assert json.loads(out.read_text()) == {"AWS_REGION": "us-east-2", "AWS_DEFAULT_REGION": "us-east-2",
                                           "arn": "arn:aws:lambda:us-east-2:000000000000:function:where"}
    names = [f["FunctionName"] for f in aws_in(endpoint, "us-east-2", "lambda", "list-functions")["Functions"]]
    assert names == ["where"]
    assert aws_in(endpoint, "us-east-1", "lambda", "list-functions")["Functions"] == []
    missing = aws_in(endpoint, "us-east-1", "lambda", "get-function", "--function-name", "where", check=False)
    assert missing.returncode != 0 and "ResourceNotFoundException" in missing.stderr
    assert "arn:aws:lambda:us-east-1:000000000000:function:where" in missing.stderr
    # One namespace per account here: the same name in a second region is refused, not silently shared.
    twin = aws_in(endpoint, "us-east-1", *create, check=False)
    assert twin.returncode != 0 and "ResourceConflictException" in twin.stderr and "us-east-2" in twin.stderr

    url = aws_in(endpoint, "us-east-2", "sqs", "create-queue", "--queue-name", "fn-jobs")["QueueUrl"]
    queue_arn = aws_in(endpoint, "us-east-2", "sqs", "get-queue-attributes", "--queue-url", url,
                       "--attribute-names", "QueueArn")["Attributes"]["QueueArn"]
    mapping = aws_in(endpoint, "us-east-2", "lambda", "create-event-source-mapping", "--function-name", "where",
                     "--event-source-arn", queue_arn)
    assert mapping["EventSourceMappingArn"].startswith("arn:aws:lambda:us-east-2:")
    aws_in(endpoint, "us-east-2", "lambda", "delete-event-source-mapping", "--uuid", mapping["UUID"])


@pytest.mark.parametrize("region", ["us-east-2", "eu-west-1"])
def test_sts_answers_in_any_region(endpoint: str, region: str) -> None:
    assert aws_in(endpoint, region, "sts", "get-caller-identity")["Account"] == "000000000000"


def conveyor_apply(endpoint: str, pipeline: Path, region: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **CLI_ENV, "AWS_DEFAULT_REGION": region}
    env.pop("AWS_REGION", None)
    return subprocess.run([sys.executable, "-m", "conveyor.cli", "apply", "--pipeline", str(pipeline),
                           "--endpoint", endpoint], capture_output=True, text=True, env=env, timeout=60)


IDLE = json.dumps([sys.executable, "-c", "import time; time.sleep(600)"])


def test_apply_creates_the_pipeline_in_the_environments_region(endpoint: str, tmp_path: Path) -> None:
    pipeline = tmp_path / "conveyor.yaml"
    pipeline.write_text("buckets:\n  - name: lab-bucket\n    notifications:\n      - {topic: lab-events}\n"
                        "topics:\n  - name: lab-events\n    subscriptions: [{queue: lab-jobs}]\n"
                        f"queues:\n  - name: lab-jobs\npools:\n  - {{name: lab, queue: lab-jobs, command: {IDLE}, "
                        "drain_timeout: 1}\n")
    applied = conveyor_apply(endpoint, pipeline, "us-east-2")
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.splitlines()[0] == "applying in us-east-2"
    url = aws_in(endpoint, "us-east-2", "sqs", "get-queue-url", "--queue-name", "lab-jobs")["QueueUrl"]
    assert aws_in(endpoint, "us-east-1", "sqs", "list-queues") is None
    assert aws_in(endpoint, "us-east-2", "s3api", "get-bucket-location",
                  "--bucket", "lab-bucket")["LocationConstraint"] == "us-east-2"
    [topic] = aws_in(endpoint, "us-east-2", "sns", "list-topics")["Topics"]
    assert topic["TopicArn"] == "arn:aws:sns:us-east-2:000000000000:lab-events"

    # The pool reads its backlog in its queue's region, and its workers get that region.
    for i in range(3):
        aws_in(endpoint, "us-east-2", "sqs", "send-message", "--queue-url", url, "--message-body", str(i))
    # (and the s3:TestEvent the notification configuration sent through the topic)
    wait_for(lambda: call(endpoint, "GET", "pools")["lab"]["backlog"] == 4)
    assert call(endpoint, "GET", "pools")["lab"]["region"] == "us-east-2"
    [worker] = wait_for(lambda: call(endpoint, "GET", "workers"))
    environ = Path(f"/proc/{worker['pid']}/environ").read_bytes().split(b"\0")
    assert b"AWS_DEFAULT_REGION=us-east-2" in environ and b"AWS_REGION=us-east-2" in environ

    status = subprocess.run([sys.executable, "-m", "conveyor.cli", "status", "--endpoint", endpoint],
                            capture_output=True, text=True, timeout=60).stdout
    ohio = status.split("REGION us-east-2", 1)[1]
    assert "lab-jobs" in ohio and "lab: 1 workers" in ohio and "s3://lab-bucket" in ohio

    again = conveyor_apply(endpoint, pipeline, "us-east-2")
    assert again.stdout.strip() == "pipeline up to date in us-east-2: nothing to change", again.stdout


def test_the_files_region_wins_over_the_environment(endpoint: str, tmp_path: Path) -> None:
    pipeline = tmp_path / "conveyor.yaml"
    pipeline.write_text("region: eu-west-1\nqueues:\n  - name: west-jobs\n")
    applied = conveyor_apply(endpoint, pipeline, "us-east-2")
    assert applied.returncode == 0 and "applying in eu-west-1" in applied.stdout, applied.stderr
    assert aws_in(endpoint, "eu-west-1", "sqs", "get-queue-url", "--queue-name", "west-jobs")["QueueUrl"] == (
        f"{endpoint}/queue/eu-west-1/000000000000/west-jobs")
    assert aws_in(endpoint, "us-east-2", "sqs", "list-queues") is None
    pipeline.write_text("region: mars-north-one\nqueues:\n  - name: q\n")
    refused = conveyor_apply(endpoint, pipeline, "us-east-2")
    assert refused.returncode == 2 and f"{pipeline}:1: region 'mars-north-one' is not a region name" in refused.stderr
