"""Functions invoked by S3 notifications and SNS subscriptions, through resource policies; code from S3."""

from __future__ import annotations

import base64
import json
import logging
import os
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.helpers import wait_for
from tests.lambda_.conftest import ROLE, make_zip

RECORDER = """
import json, os
def lambda_handler(event, context):
    with open(os.environ["OUT"], "a") as fh:
        fh.write(json.dumps(event) + "\\n")
"""


def _events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_s3_notification_needs_permission_and_sends_no_test_event(lam: Any, make_function: Any, client: Any,
                                                                 tmp_path: Path, endpoint: str) -> None:
    s3 = client("s3")
    s3.create_bucket(Bucket="photos")
    out = tmp_path / "events"
    arn = make_function("thumbs", RECORDER, Environment={"Variables": {"OUT": str(out)}})["FunctionArn"]
    config = {"LambdaFunctionConfigurations": [{
        "LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"],
        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "uploads/"}]}}}]}
    with pytest.raises(ClientError) as err:  # S3 is not allowed to invoke it yet
        s3.put_bucket_notification_configuration(Bucket="photos", NotificationConfiguration=config)
    assert err.value.response["Error"]["Code"] == "InvalidArgument"
    assert "Unable to validate the following destination configurations" in err.value.response["Error"]["Message"]
    lam.add_permission(FunctionName="thumbs", StatementId="other-bucket", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::other")
    with pytest.raises(ClientError):  # a statement for another bucket does not count
        s3.put_bucket_notification_configuration(Bucket="photos", NotificationConfiguration=config)
    lam.add_permission(FunctionName="thumbs", StatementId="photos", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::photo*", SourceAccount="000000000000")
    s3.put_bucket_notification_configuration(Bucket="photos", NotificationConfiguration=config)

    s3.put_object(Bucket="photos", Key="elsewhere/x.jpg", Body=b"no")
    s3.put_object(Bucket="photos", Key="uploads/a b.jpg", Body=b"12345")
    (event,) = wait_for(lambda: _events(out))  # exactly one: no s3:TestEvent, nothing outside the prefix
    (record,) = event["Records"]
    assert record["eventSource"] == "aws:s3" and record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["bucket"]["arn"] == "arn:aws:s3:::photos"
    assert record["s3"]["object"]["key"] == "uploads/a+b.jpg" and record["s3"]["object"]["size"] == 5

    lam.remove_permission(FunctionName="thumbs", StatementId="photos")  # revoked: S3's events are dropped
    s3.put_object(Bucket="photos", Key="uploads/late.jpg", Body=b"x")
    wait_for(lambda: _settled(endpoint))
    assert len(_events(out)) == 1


def _settled(endpoint: str) -> bool:
    """S3's outbox is empty and no asynchronous invocation is queued or running."""
    with urllib.request.urlopen(f"{endpoint}/_conveyor/health", timeout=10) as response:
        services = json.load(response)["services"]
    functions = services["lambda"]
    return (services["s3"]["pending_events"] == 0 and functions["async_pending"] == 0
            and functions["async_running"] == 0)


def test_sns_subscription_invokes_only_with_permission(lam: Any, make_function: Any, client: Any,
                                                       tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                       advance: Callable[[float], float]) -> None:
    sns, sqs = client("sns"), client("sqs")
    out = tmp_path / "events"
    arn = make_function("listener", RECORDER, Environment={"Variables": {"OUT": str(out)}})["FunctionArn"]
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    dlq = sqs.create_queue(QueueName="alerts-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sub = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=arn, ReturnSubscriptionArn=True,
                        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn})})
    started = advance(0)
    caplog.set_level(logging.WARNING, logger="conveyor")
    sns.publish(TopicArn=topic, Message="denied")  # no permission: a failed delivery, to the DLQ
    dead = wait_for(lambda: sqs.receive_message(QueueUrl=dlq).get("Messages"))
    assert json.loads(dead[0]["Body"])["Message"] == "denied"
    assert not _events(out)
    # An expected refusal: one warning naming the subscription and why, no traceback, no ERROR.
    refusals = [r for r in caplog.records if r.name.startswith("conveyor.services.sns")]
    assert [r.levelno for r in refusals] == [logging.WARNING]
    assert sub["SubscriptionArn"] in refusals[0].getMessage() and "sns.amazonaws.com" in refusals[0].getMessage()
    assert refusals[0].exc_info is None
    now = advance(60)  # the minute ends: its counts are stored (by a write of their own, waited for)

    def failed() -> list[float]:
        points = client("cloudwatch").get_metric_statistics(
            Namespace="AWS/SNS", MetricName="NumberOfNotificationsFailed",
            Dimensions=[{"Name": "TopicName", "Value": "alerts"}], StartTime=started - 600, EndTime=now + 60,
            Period=3600, Statistics=["Sum"])["Datapoints"]
        return [p["Sum"] for p in points]

    assert wait_for(failed) == [1.0]

    lam.add_permission(FunctionName="listener", StatementId="sns", Action="lambda:InvokeFunction",
                       Principal="sns.amazonaws.com", SourceArn=topic)
    sns.publish(TopicArn=topic, Message="hello", Subject="greeting",
                MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}})
    (event,) = wait_for(lambda: _events(out))
    (record,) = event["Records"]
    assert record["EventSource"] == "aws:sns" and record["EventSubscriptionArn"] == sub["SubscriptionArn"]
    assert record["Sns"]["Message"] == "hello" and record["Sns"]["Subject"] == "greeting"
    assert record["Sns"]["TopicArn"] == topic and record["Sns"]["MessageAttributes"]["k"]["Value"] == "v"


def test_policy_per_qualifier(lam: Any, make_function: Any) -> None:
    make_function("q", "def lambda_handler(e, c):\n    return 1\n", Publish=True)
    lam.create_alias(FunctionName="q", Name="live", FunctionVersion="1")
    lam.add_permission(FunctionName="q", Qualifier="live", StatementId="s3", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com")
    policy = json.loads(lam.get_policy(FunctionName="q:live")["Policy"])
    assert policy["Statement"][0]["Resource"].endswith(":function:q:live")
    with pytest.raises(ClientError) as err:  # the unqualified function has no policy of its own
        lam.get_policy(FunctionName="q")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    revision = lam.get_policy(FunctionName="q", Qualifier="live")["RevisionId"]
    with pytest.raises(ClientError) as err:
        lam.remove_permission(FunctionName="q", Qualifier="live", StatementId="s3", RevisionId="stale")
    assert err.value.response["Error"]["Code"] == "PreconditionFailedException"
    lam.remove_permission(FunctionName="q", Qualifier="live", StatementId="s3", RevisionId=revision)
    with pytest.raises(ClientError):
        lam.get_policy(FunctionName="q", Qualifier="live")


def test_code_from_an_s3_object(lam: Any, client: Any, aws: Any, tmp_path: Path) -> None:
    s3 = client("s3")
    s3.create_bucket(Bucket="artifacts")
    s3.put_bucket_versioning(Bucket="artifacts", VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket="artifacts", Key="fn.zip",
                       Body=make_zip("def lambda_handler(e, c):\n    return 'one'\n"))["VersionId"]
    padding = base64.b64encode(os.urandom(150_000)).decode()
    big = make_zip(f"PADDING = {padding!r}\ndef lambda_handler(e, c):\n    return 'two'\n")
    assert len(big) > 100_000  # stored as a file, where the small one lives in the object's row
    s3.put_object(Bucket="artifacts", Key="fn.zip", Body=big)
    lam.create_function(FunctionName="from-s3", Role=ROLE, Runtime="python3.12",
                        Handler="lambda_function.lambda_handler",
                        Code={"S3Bucket": "artifacts", "S3Key": "fn.zip", "S3ObjectVersion": v1})
    assert json.loads(lam.invoke(FunctionName="from-s3")["Payload"].read()) == "one"
    aws("lambda", "update-function-code", "--function-name", "from-s3", "--s3-bucket", "artifacts",
        "--s3-key", "fn.zip")
    assert json.loads(lam.invoke(FunctionName="from-s3")["Payload"].read()) == "two"
    with pytest.raises(ClientError) as err:
        lam.update_function_code(FunctionName="from-s3", S3Bucket="artifacts", S3Key="missing.zip")
    assert err.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "NoSuchKey" in err.value.response["Error"]["Message"]
