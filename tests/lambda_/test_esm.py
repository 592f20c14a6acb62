"""SQS event source mappings: the upload pipeline, partial batch failures, DLQ by redrive, scaling."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.helpers import wait_for
from tests.lambda_.conftest import ROLE, health, make_zip

MOVER = """
import json, urllib.parse
import boto3
s3 = boto3.client("s3")
def lambda_handler(event, context):
    for record in event["Records"]:
        body = json.loads(record["body"])
        for rec in body.get("Records", []):  # the s3:TestEvent has none
            bucket = rec["s3"]["bucket"]["name"]
            key = urllib.parse.unquote_plus(rec["s3"]["object"]["key"])
            target = "processed/" + key.split("/", 1)[1]
            s3.copy_object(Bucket=bucket, Key=target, CopySource={"Bucket": bucket, "Key": key})
            s3.delete_object(Bucket=bucket, Key=key)
"""


def _queue(sqs: Any, name: str, **attrs: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def _counts(sqs: Any, url: str) -> tuple[int, int]:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]), int(attrs["ApproximateNumberOfMessagesNotVisible"])


def test_upload_pipeline_moves_objects(aws: Any, client: Any, tmp_path: Path) -> None:
    s3, sqs = client("s3"), client("sqs")
    s3.create_bucket(Bucket="uploads-bucket")
    url, arn = _queue(sqs, "uploads")
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({"Statement": [{
        "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sqs:SendMessage", "Resource": arn,
        "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::uploads-bucket"}}}]})})
    s3.put_bucket_notification_configuration(Bucket="uploads-bucket", NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"],
                                 "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "uploads/"}]}}}]})
    (tmp_path / "fn.zip").write_bytes(make_zip(MOVER))
    aws("lambda", "create-function", "--function-name", "mover", "--runtime", "python3.12", "--role", ROLE,
        "--handler", "lambda_function.lambda_handler", "--zip-file", f"fileb://{tmp_path / 'fn.zip'}",
        "--timeout", "20")
    mapping = aws("lambda", "create-event-source-mapping", "--function-name", "mover", "--event-source-arn", arn,
                  "--batch-size", "10")
    assert mapping["State"] == "Creating" and mapping["BatchSize"] == 10
    assert aws("lambda", "get-event-source-mapping", "--uuid", mapping["UUID"])["State"] == "Enabled"
    for name in ("a.txt", "b c.txt"):
        s3.put_object(Bucket="uploads-bucket", Key=f"uploads/{name}", Body=name.encode())

    def moved() -> bool:
        keys = {o["Key"] for o in s3.list_objects_v2(Bucket="uploads-bucket").get("Contents", [])}
        return keys == {"processed/a.txt", "processed/b c.txt"}

    wait_for(moved, timeout=30)
    assert s3.get_object(Bucket="uploads-bucket", Key="processed/b c.txt")["Body"].read() == b"b c.txt"
    wait_for(lambda: _counts(sqs, url) == (0, 0))
    listed = aws("lambda", "list-event-source-mappings", "--function-name", "mover")["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [mapping["UUID"]]
    assert aws("lambda", "delete-event-source-mapping", "--uuid", mapping["UUID"])["State"] == "Deleting"


def test_partial_batch_failure_leaves_exactly_the_failed(lam: Any, make_function: Any, client: Any,
                                                         advance: Any) -> None:
    sqs = client("sqs")
    url, arn = _queue(sqs, "partial", VisibilityTimeout="30")
    make_function("picky", """
        def lambda_handler(event, context):
            assert all(r["eventSource"] == "aws:sqs" and r["messageAttributes"]["kind"]["dataType"] == "String"
                       for r in event["Records"])
            return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]
                                          if r["body"].startswith("bad")]}
    """)
    sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "MessageBody": f"{'bad' if i % 3 == 0 else 'good'}-{i}",
         "MessageAttributes": {"kind": {"DataType": "String", "StringValue": "x"}}} for i in range(10)])
    uuid = lam.create_event_source_mapping(FunctionName="picky", EventSourceArn=arn, BatchSize=10,
                                           FunctionResponseTypes=["ReportBatchItemFailures"])["UUID"]
    wait_for(lambda: _counts(sqs, url) == (0, 4))
    lam.update_event_source_mapping(UUID=uuid, Enabled=False)
    assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Disabled"
    advance(31)
    bodies = []
    for _ in range(3):
        bodies += [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])]
    assert sorted(bodies) == ["bad-0", "bad-3", "bad-6", "bad-9"]


def test_invalid_partial_response_fails_the_whole_batch(lam: Any, make_function: Any, client: Any) -> None:
    sqs = client("sqs")
    url, arn = _queue(sqs, "invalid-partial")
    make_function("liar", """
        def lambda_handler(event, context):
            return {"batchItemFailures": [{"itemIdentifier": "not-in-the-batch"}]}
    """)
    sqs.send_message(QueueUrl=url, MessageBody="x")
    lam.create_event_source_mapping(FunctionName="liar", EventSourceArn=arn,
                                    FunctionResponseTypes=["ReportBatchItemFailures"])
    wait_for(lambda: _counts(sqs, url) == (0, 1))
    wait_for(lambda: any(m["failed_batches"] for m in health_of(client)["mappings"].values()))


def health_of(client: Any) -> dict[str, Any]:
    endpoint = client("sqs").meta.endpoint_url
    return health(endpoint)


def test_failing_handler_sends_messages_to_the_dlq(lam: Any, make_function: Any, client: Any,
                                                   advance: Any) -> None:
    sqs = client("sqs")
    dlq_url, dlq_arn = _queue(sqs, "work-dlq")
    url, arn = _queue(sqs, "work", VisibilityTimeout="10",
                      RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}))
    make_function("broken", "def lambda_handler(e, c):\n    raise Exception('nope')\n")
    lam.create_event_source_mapping(FunctionName="broken", EventSourceArn=arn, BatchSize=1)
    sqs.send_message(QueueUrl=url, MessageBody="poison")

    def batches() -> int:
        return sum(m["failed_batches"] for m in health_of(client)["mappings"].values())

    wait_for(lambda: batches() == 1)
    advance(11)
    wait_for(lambda: batches() == 2)
    advance(11)  # the third receive moves it to the DLQ instead
    wait_for(lambda: _counts(sqs, dlq_url)[0] == 1)
    assert _counts(sqs, url) == (0, 0)
    assert batches() == 2
    message = sqs.receive_message(QueueUrl=dlq_url)["Messages"][0]
    assert message["Body"] == "poison"


def test_concurrency_grows_with_backlog_and_falls_back(lam: Any, make_function: Any, client: Any,
                                                       advance: Any, endpoint: str) -> None:
    sqs = client("sqs")
    url, arn = _queue(sqs, "backlog")
    make_function("worker", "import time\ndef lambda_handler(e, c):\n    time.sleep(0.05)\n")
    for start in range(0, 1000, 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": str(start + i)}
                                                      for i in range(10)])
    uuid = lam.create_event_source_mapping(FunctionName="worker", EventSourceArn=arn, BatchSize=10,
                                           ScalingConfig={"MaximumConcurrency": 12})["UUID"]
    wait_for(lambda: _counts(sqs, url) == (0, 0), timeout=60)
    state = health(endpoint)["mappings"][uuid]
    assert 5 < state["peak"] <= 12
    assert state["batches"] == 100
    advance(21)  # pollers parked in long polls come back empty and the extra ones leave
    wait_for(lambda: health(endpoint)["mappings"][uuid]["pollers"] == 5)
    assert health(endpoint)["mappings"][uuid]["concurrency"] == 0
    assert health(endpoint)["concurrency"]["worker"]["peak"] <= 12
    shown = subprocess.run([sys.executable, "-m", "conveyor.cli", "functions", "--json", "--endpoint", endpoint],
                           capture_output=True, text=True, timeout=60, check=True)
    (fn,) = json.loads(shown.stdout)
    (mapping,) = fn["mappings"]
    assert mapping["pollers"] == 5 and mapping["concurrency"] == 0 and 5 < mapping["peak"] <= 12
    assert fn["busy"] == 0 and 5 < fn["peak"] <= 12 and fn["invocations"] == 100


def test_mapping_validation(lam: Any, make_function: Any, client: Any) -> None:
    sqs = client("sqs")
    _, arn = _queue(sqs, "v", VisibilityTimeout="5")
    _, fifo = _queue(sqs, "v.fifo", FifoQueue="true")
    make_function("v", "def lambda_handler(e, c):\n    pass\n", Timeout=3)
    cases = [
        {"EventSourceArn": arn, "BatchSize": 100},  # > 10 needs a batching window
        {"EventSourceArn": fifo, "BatchSize": 11, "MaximumBatchingWindowInSeconds": 1},
        {"EventSourceArn": arn + "-missing"},
        {"EventSourceArn": arn, "FilterCriteria": {"Filters": [{"Pattern": "asdf"}]}},  # not a pattern
    ]
    for case in cases:
        with pytest.raises(ClientError) as err:
            lam.create_event_source_mapping(FunctionName="v", **case)
        assert err.value.response["Error"]["Code"] == "InvalidParameterValueException", case
    lam.update_function_configuration(FunctionName="v", Timeout=10)
    with pytest.raises(ClientError) as err:  # visibility timeout (5) below the function timeout (10)
        lam.create_event_source_mapping(FunctionName="v", EventSourceArn=arn)
    assert "visibility timeout" in err.value.response["Error"]["Message"]
    mapping = lam.create_event_source_mapping(FunctionName="v", EventSourceArn=fifo, BatchSize=10)
    with pytest.raises(ClientError) as err:
        lam.create_event_source_mapping(FunctionName="v", EventSourceArn=fifo)
    assert err.value.response["Error"]["Code"] == "ResourceConflictException"
    lam.delete_event_source_mapping(UUID=mapping["UUID"])
    with pytest.raises(ClientError) as err:
        lam.get_event_source_mapping(UUID=mapping["UUID"])
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    # The message names the request that asked, the one the answer's x-amzn-RequestId names.
    request_id = err.value.response["ResponseMetadata"]["RequestId"]
    assert err.value.response["Error"]["Message"] == ("The resource you requested does not exist. (Service: Lambda, "
                                                      f"Status Code: 404, Request ID: {request_id})")
