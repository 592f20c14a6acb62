"""Event source mappings under `--iam enforce`: Lambda polls the queue or stream as the function's execution
role. CreateEventSourceMapping refuses a role that cannot read the source, in AWS's words; a permission
taken away later stops the polling (nothing delivered, nothing deleted, the mapping's
LastProcessingResult says why) until it is given back."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.authz.conftest import ACCOUNT, Server, allow, policy, refused
from tests.helpers import wait_for

RECORDER = """
import json, os
def handler(event, context):
    with open(os.environ["OUT"], "a") as f:
        for r in event["Records"]:
            f.write(json.dumps(r.get("body") or r.get("kinesis", {}).get("sequenceNumber")
                               or r.get("dynamodb", {}).get("Keys")) + "\\n")
"""
QUEUE_ARN = f"arn:aws:sqs:us-east-1:{ACCOUNT}:jobs"
LOGS = allow(["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"])


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", source)
    return buffer.getvalue()


def _function(server: Server, out: Path, *statements: dict[str, Any]) -> Any:
    """A function whose role has `statements` (inline policy "reader"); its Lambda client (root)."""
    iam, lam = server.root("iam"), server.root("lambda")
    iam.create_role(RoleName="fn-role", AssumeRolePolicyDocument=policy(
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}))
    iam.put_role_policy(RoleName="fn-role", PolicyName="reader", PolicyDocument=policy(LOGS, *statements))
    lam.create_function(FunctionName="rec", Runtime="python3.12", Handler="index.handler",
                        Role=f"arn:aws:iam::{ACCOUNT}:role/fn-role", Code={"ZipFile": _zip(RECORDER)},
                        Environment={"Variables": {"OUT": str(out)}})
    return lam


def _lines(out: Path) -> list[str]:
    return [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []


def _advance(server: Server, seconds: float) -> None:
    server.control.call("POST", "clock", {"advance": seconds})


def _visible(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages",
                                                                        "ApproximateNumberOfMessagesNotVisible"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def test_a_queue_mapping_needs_an_execution_role_that_may_poll(server: Server, tmp_path: Path) -> None:
    sqs = server.root("sqs")
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    out = tmp_path / "out.txt"
    lam = _function(server, out, allow("sqs:GetQueueAttributes", QUEUE_ARN))
    create: Callable[[], Any] = lambda: lam.create_event_source_mapping(  # noqa: E731
        FunctionName="rec", EventSourceArn=QUEUE_ARN, BatchSize=1)
    assert refused(create) == ("InvalidParameterValueException",
                               "The function execution role does not have permissions to call ReceiveMessage on SQS",
                               400)
    iam = server.root("iam")
    iam.put_role_policy(RoleName="fn-role", PolicyName="reader", PolicyDocument=policy(
        LOGS, allow(["sqs:ReceiveMessage", "sqs:GetQueueAttributes"], QUEUE_ARN)))
    assert refused(create)[1] == "The function execution role does not have permissions to call DeleteMessage on SQS"
    denial = server.denials()["recent"][-1]
    assert denial["principal"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/fn-role/rec"
    assert denial["call"] == "lambda.CreateEventSourceMapping" and denial["action"] == "sqs:DeleteMessage"

    consume = allow(["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"], QUEUE_ARN)
    iam.put_role_policy(RoleName="fn-role", PolicyName="reader", PolicyDocument=policy(LOGS, consume))
    uuid = create()["UUID"]
    sqs.send_message(QueueUrl=url, MessageBody="first")
    wait_for(lambda: _lines(out) == ["first"], what="the first message delivered")
    wait_for(lambda: _visible(sqs, url) == 0 and "LastProcessingResult" not in lam.get_event_source_mapping(
        UUID=uuid), what="the first message deleted")

    # The permission is taken away while the pollers are parked in their long polls: the next message is
    # neither received nor delivered, and the mapping says why.
    iam.put_role_policy(RoleName="fn-role", PolicyName="reader", PolicyDocument=policy(
        LOGS, allow(["sqs:DeleteMessage", "sqs:GetQueueAttributes"], QUEUE_ARN)))
    sqs.send_message(QueueUrl=url, MessageBody="second")
    result = wait_for(lambda: lam.get_event_source_mapping(UUID=uuid).get("LastProcessingResult"),
                      what="the mapping reporting its problem")
    assert result == (f"PROBLEM: User: arn:aws:sts::{ACCOUNT}:assumed-role/fn-role/rec is not authorized to perform: "
                      f"sqs:ReceiveMessage on resource: {QUEUE_ARN} because no identity-based policy allows the "
                      "sqs:ReceiveMessage action")
    assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled"
    assert _visible(sqs, url) == 1 and _lines(out) == ["first"]
    assert any(d["call"] == f"lambda event source mapping {uuid}" for d in server.denials()["recent"])

    # Given back: the pollers try again after their pause (on the server's clock) and deliver.
    iam.put_role_policy(RoleName="fn-role", PolicyName="reader", PolicyDocument=policy(LOGS, consume))
    _advance(server, 10)
    wait_for(lambda: _lines(out) == ["first", "second"], what="the second message delivered")
    wait_for(lambda: lam.get_event_source_mapping(UUID=uuid).get("LastProcessingResult") == "OK",
             what="the mapping back to OK")
    wait_for(lambda: _visible(sqs, url) == 0, what="the second message deleted")


def test_a_poller_without_delete_leaves_the_messages_in_the_queue(server: Server, tmp_path: Path) -> None:
    sqs = server.root("sqs")
    url = sqs.create_queue(QueueName="jobs", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    out = tmp_path / "out.txt"
    consume = allow(["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"], QUEUE_ARN)
    lam = _function(server, out, consume)
    uuid = lam.create_event_source_mapping(FunctionName="rec", EventSourceArn=QUEUE_ARN, BatchSize=1)["UUID"]
    server.root("iam").put_role_policy(RoleName="fn-role", PolicyName="reader", PolicyDocument=policy(
        LOGS, consume, {"Effect": "Deny", "Action": "sqs:DeleteMessage", "Resource": QUEUE_ARN}))
    sqs.send_message(QueueUrl=url, MessageBody="kept")
    wait_for(lambda: _lines(out) == ["kept"], what="the message delivered")
    result = wait_for(lambda: lam.get_event_source_mapping(UUID=uuid).get("LastProcessingResult"),
                      what="the mapping reporting its problem")
    assert "sqs:DeleteMessage" in result and "with an explicit deny in an identity-based policy" in result
    # Not deleted: in flight, it comes back after the queue's visibility timeout, and is delivered again.
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
    assert attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "1"
    _advance(server, 31)
    wait_for(lambda: _lines(out) == ["kept", "kept"], what="the message delivered again")


def test_a_stream_mapping_reads_as_the_execution_role(server: Server, tmp_path: Path) -> None:
    kinesis = server.root("kinesis")
    kinesis.create_stream(StreamName="clicks", ShardCount=1)
    stream = kinesis.describe_stream_summary(StreamName="clicks")["StreamDescriptionSummary"]["StreamARN"]
    out = tmp_path / "out.txt"
    readable = ["kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:DescribeStream", "kinesis:ListShards"]
    lam = _function(server, out, allow(readable[:3], stream))
    create: Callable[[], Any] = lambda: lam.create_event_source_mapping(  # noqa: E731
        FunctionName="rec", EventSourceArn=stream, StartingPosition="TRIM_HORIZON", BatchSize=10)
    assert refused(create) == ("InvalidParameterValueException",
                               f"Cannot access stream {stream}. Please ensure the role can perform the GetRecords, "
                               "GetShardIterator, DescribeStream, ListShards, and ListStreams Actions on your stream "
                               "in IAM.", 400)
    iam = server.root("iam")
    iam.put_role_policy(RoleName="fn-role", PolicyName="reader", PolicyDocument=policy(LOGS, allow(readable, stream)))
    uuid = create()["UUID"]
    kinesis.put_record(StreamName="clicks", PartitionKey="k", Data=b"one")
    wait_for(lambda: len(_lines(out)) == 1, what="the first record delivered")
    wait_for(lambda: lam.get_event_source_mapping(UUID=uuid)["LastProcessingResult"] == "OK", what="OK")

    iam.put_role_policy(RoleName="fn-role", PolicyName="reader", PolicyDocument=policy(
        LOGS, allow(readable, stream), {"Effect": "Deny", "Action": "kinesis:GetRecords", "Resource": stream}))
    kinesis.put_record(StreamName="clicks", PartitionKey="k", Data=b"two")
    result = wait_for(lambda: lam.get_event_source_mapping(UUID=uuid)["LastProcessingResult"] != "OK",
                      what="the mapping reporting its problem") and lam.get_event_source_mapping(UUID=uuid)
    assert result["LastProcessingResult"] == (
        f"PROBLEM: User: arn:aws:sts::{ACCOUNT}:assumed-role/fn-role/rec is not authorized to perform: "
        f"kinesis:GetRecords on resource: {stream} with an explicit deny in an identity-based policy")
    assert len(_lines(out)) == 1

    iam.put_role_policy(RoleName="fn-role", PolicyName="reader", PolicyDocument=policy(LOGS, allow(readable, stream)))
    _advance(server, 10)
    wait_for(lambda: len(_lines(out)) == 2, what="the second record delivered")


def test_a_dynamodb_stream_mapping_reads_as_the_execution_role(server: Server, tmp_path: Path) -> None:
    ddb = server.root("dynamodb")
    stream = ddb.create_table(TableName="orders", AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                              KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST",
                              StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
                              )["TableDescription"]["LatestStreamArn"]
    out = tmp_path / "out.txt"
    # https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html: the four actions the role needs.
    readable = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"]
    lam = _function(server, out, allow(readable[:3], stream))
    create: Callable[[], Any] = lambda: lam.create_event_source_mapping(  # noqa: E731
        FunctionName="rec", EventSourceArn=stream, StartingPosition="TRIM_HORIZON", BatchSize=10)
    assert refused(create) == ("InvalidParameterValueException",
                               f"Cannot access stream {stream}. Please ensure the role can perform the GetRecords, "
                               "GetShardIterator, DescribeStream, and ListStreams Actions on your stream in IAM.", 400)
    iam = server.root("iam")
    iam.put_role_policy(RoleName="fn-role", PolicyName="reader", PolicyDocument=policy(LOGS, allow(readable, stream)))
    uuid = create()["UUID"]
    ddb.put_item(TableName="orders", Item={"pk": {"S": "one"}})
    wait_for(lambda: _lines(out) == [{"pk": {"S": "one"}}], what="the first record delivered")
    wait_for(lambda: lam.get_event_source_mapping(UUID=uuid)["LastProcessingResult"] == "OK", what="OK")

    iam.put_role_policy(RoleName="fn-role", PolicyName="reader", PolicyDocument=policy(
        LOGS, allow(readable, stream), {"Effect": "Deny", "Action": "dynamodb:GetRecords", "Resource": stream}))
    ddb.put_item(TableName="orders", Item={"pk": {"S": "two"}})
    result = wait_for(lambda: lam.get_event_source_mapping(UUID=uuid)["LastProcessingResult"] != "OK",
                      what="the mapping reporting its problem") and lam.get_event_source_mapping(UUID=uuid)
    assert result["LastProcessingResult"] == (
        f"PROBLEM: User: arn:aws:sts::{ACCOUNT}:assumed-role/fn-role/rec is not authorized to perform: "
        f"dynamodb:GetRecords on resource: {stream} with an explicit deny in an identity-based policy")
    assert len(_lines(out)) == 1

    iam.put_role_policy(RoleName="fn-role", PolicyName="reader", PolicyDocument=policy(LOGS, allow(readable, stream)))
    _advance(server, 10)
    wait_for(lambda: len(_lines(out)) == 2, what="the second record delivered")
