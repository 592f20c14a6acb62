"""S3 checks that a queue's or topic's policy lets it deliver before accepting a bucket notification,
with AWS's InvalidArgument error naming each refused destination; the lab's policy makes it work."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from tests.helpers import wait_for

ACCOUNT = "000000000000"
REFUSED = "Unable to validate the following destination configurations"


@pytest.fixture
def sqs(endpoint, make_client):  # type: ignore[no-untyped-def]
    return make_client(endpoint, "sqs")


@pytest.fixture
def sns(endpoint, make_client):  # type: ignore[no-untyped-def]
    return make_client(endpoint, "sns")


def _queue(sqs: Any, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def lab_policy(arn: str, bucket: str, action: str = "sqs:SendMessage") -> str:
    """The access policy the lab pastes into the queue (the AWS guide's form)."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "AllowS3SendMessage", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
        "Action": action, "Resource": arn,
        "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}, "ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"}}}]})


def _queue_config(*arns: str) -> dict[str, Any]:
    return {"QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"],
                                     "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": f"p{i}/"}]}}}
                                    for i, arn in enumerate(arns)]}


def _raw_error(s3: Any, bucket: str, config: dict[str, Any]) -> ET.Element:
    """The error document exactly as the server sent it (botocore keeps only some of its fields)."""
    raw: list[bytes] = []
    s3.meta.events.register("before-parse.s3.PutBucketNotificationConfiguration",
                            lambda response_dict, **_: raw.append(response_dict["body"]))
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert exc.value.response["Error"]["Code"] == "InvalidArgument"
    assert exc.value.response["Error"]["Message"] == REFUSED
    return ET.fromstring(raw[-1])


def test_queue_policy_must_let_s3_send_for_this_bucket(s3, sqs, bucket):
    url, arn = _queue(sqs, "uploads-queue")
    root = _raw_error(s3, bucket, _queue_config(arn))  # no policy at all: only the owner may send
    assert [(child.tag, child.text) for child in root][:4] == [
        ("Code", "InvalidArgument"), ("Message", REFUSED), ("ArgumentName1", arn),
        ("ArgumentValue1", "Permissions on the destination queue do not allow S3 to publish notifications "
                           "from this bucket")]
    assert [child.tag for child in root][4:] == ["RequestId", "HostId"]
    # A policy for another bucket, or for another principal, does not count either.
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": lab_policy(arn, "some-other-bucket")})
    _raw_error(s3, bucket, _queue_config(arn))
    other = json.loads(lab_policy(arn, bucket))
    other["Statement"][0]["Principal"] = {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(other)})
    _raw_error(s3, bucket, _queue_config(arn))
    assert s3.get_bucket_notification_configuration(Bucket=bucket).get("QueueConfigurations") is None

    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": lab_policy(arn, bucket)})
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=_queue_config(arn))
    assert s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"][0]["QueueArn"] == arn
    # The test event is delivered asynchronously (no long polls: manual clock).
    messages = wait_for(lambda: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages"), timeout=10,
                        what="an s3:TestEvent")
    assert json.loads(messages[0]["Body"])["Event"] == "s3:TestEvent"


def test_each_refused_destination_is_named_with_its_reason(s3, sqs, bucket):
    _, open_arn = _queue(sqs, "open")
    sqs.set_queue_attributes(QueueUrl=sqs.get_queue_url(QueueName="open")["QueueUrl"], Attributes={"Policy": json.dumps({
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": open_arn}]})})
    _, closed_arn = _queue(sqs, "closed")
    missing_arn = closed_arn.replace("closed", "missing")
    root = _raw_error(s3, bucket, _queue_config(open_arn, closed_arn, missing_arn))
    details = {child.tag: child.text for child in root}
    assert details["ArgumentName1"] == closed_arn
    assert details["ArgumentValue1"].startswith("Permissions on the destination queue do not allow S3")
    assert details["ArgumentName2"] == missing_arn
    assert details["ArgumentValue2"] == "The destination queue does not exist"
    assert "ArgumentName3" not in details  # the open queue passed


def test_topic_policy_must_let_s3_publish(s3, sns, bucket):
    topic = sns.create_topic(Name="upload-events")["TopicArn"]
    # The default topic policy lets accounts' principals publish (under an AWS:SourceOwner condition),
    # which S3 acting as a service does not satisfy.
    root = _raw_error(s3, bucket, {"TopicConfigurations": [{"TopicArn": topic, "Events": ["s3:ObjectCreated:*"]}]})
    assert {c.tag: c.text for c in root}["ArgumentValue1"] == (
        "Permissions on the destination topic do not allow S3 to publish notifications from this bucket")
    policy = json.loads(sns.get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"])
    policy["Statement"].append(json.loads(lab_policy(topic, bucket, "SNS:Publish"))["Statement"][0])
    sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps(policy))
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "TopicConfigurations": [{"TopicArn": topic, "Events": ["s3:ObjectCreated:*"]}]})
    gone = topic.replace("upload-events", "gone")
    root = _raw_error(s3, bucket, {"TopicConfigurations": [{"TopicArn": gone, "Events": ["s3:ObjectCreated:*"]}]})
    assert {c.tag: c.text for c in root}["ArgumentValue1"] == "The destination topic does not exist"


def test_checked_with_signatures_on_too(start_server, tmp_path):
    server = start_server(tmp_path / "auth-on", "--auth", "sigv4")
    config = Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"})
    options = dict(endpoint_url=server.endpoint, region_name="us-east-1", aws_access_key_id="test",
                   aws_secret_access_key="test", config=config)
    s3, sqs = boto3.client("s3", **options), boto3.client("sqs", **options)
    s3.create_bucket(Bucket="signed")
    url, arn = _queue(sqs, "signed-q")
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_notification_configuration(Bucket="signed", NotificationConfiguration=_queue_config(arn))
    assert exc.value.response["Error"]["Message"] == REFUSED
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": lab_policy(arn, "signed")})
    s3.put_bucket_notification_configuration(Bucket="signed", NotificationConfiguration=_queue_config(arn))
