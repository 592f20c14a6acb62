"""Deliveries between services under `--iam enforce`: SNS into a queue, and S3 into a queue, happen only
when the queue's policy lets the service principal send for that source, checked at each delivery as AWS
does. With `--iam off` (the shared server) SNS delivers without a queue policy, as earlier versions did."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tests.authz.conftest import ACCOUNT, Server, policy


def _sns_may_send(queue_arn: str, topic_arn: str) -> dict[str, Any]:
    return {"Sid": "sns", "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "sqs:SendMessage", "Resource": queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}}}


def _s3_may_send(queue_arn: str, bucket: str) -> dict[str, Any]:
    return {"Sid": "s3", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "sqs:SendMessage", "Resource": queue_arn,
            "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"},
                          "StringEquals": {"aws:SourceAccount": ACCOUNT}}}


def _bodies(sqs: Any, url: str, wait: int = 0) -> list[str]:
    return [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                                   WaitTimeSeconds=wait).get("Messages", [])]


def test_sns_delivers_into_a_queue_only_as_its_policy_allows(server: Server) -> None:
    sns, sqs = server.root("sns"), server.root("sqs")
    topic = sns.create_topic(Name="events")["TopicArn"]
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    queue_arn = f"arn:aws:sqs:us-east-1:{ACCOUNT}:jobs"
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    sns.publish(TopicArn=topic, Message="refused")
    assert _bodies(sqs, url) == []
    [denial] = server.denials()["recent"]
    assert denial["principal"] == "sns.amazonaws.com" and denial["action"] == "sqs:SendMessage"
    assert denial["message"] == (f"User: sns.amazonaws.com is not authorized to perform: sqs:SendMessage on resource: "
                                 f"{queue_arn} because no resource-based policy allows the sqs:SendMessage action")
    # A statement for another topic does not do.
    other = sns.create_topic(Name="other")["TopicArn"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy(_sns_may_send(queue_arn, other))})
    sns.publish(TopicArn=topic, Message="still refused")
    assert _bodies(sqs, url) == []
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy(_sns_may_send(queue_arn, topic))})
    sns.publish(TopicArn=topic, Message="delivered")
    assert _bodies(sqs, url, wait=5) == ["delivered"]


def test_s3_events_are_checked_at_delivery_too(server: Server) -> None:
    s3, sqs = server.root("s3"), server.root("sqs")
    s3.create_bucket(Bucket="photos")
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    queue_arn = f"arn:aws:sqs:us-east-1:{ACCOUNT}:jobs"
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy(_s3_may_send(queue_arn, "photos"))})
    s3.put_bucket_notification_configuration(Bucket="photos", NotificationConfiguration={"QueueConfigurations": [
        {"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}]})
    assert "s3:TestEvent" in _bodies(sqs, url, wait=5)[0]
    s3.put_object(Bucket="photos", Key="a.jpg", Body=b"a")
    assert '"a.jpg"' in _bodies(sqs, url, wait=5)[0]
    # The statement is taken away after the notification was configured: S3's next event is refused.
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy(_s3_may_send(queue_arn, "elsewhere"))})
    s3.put_object(Bucket="photos", Key="b.jpg", Body=b"b")
    _wait(lambda: any(d["principal"] == "s3.amazonaws.com" for d in server.denials()["recent"]))
    assert _bodies(sqs, url) == []


def test_with_iam_off_sns_needs_no_queue_policy(client: Callable[..., Any]) -> None:
    sns, sqs = client("sns"), client("sqs")
    topic = sns.create_topic(Name="events")["TopicArn"]
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=f"arn:aws:sqs:us-east-1:{ACCOUNT}:jobs",
                  Attributes={"RawMessageDelivery": "true"})
    sns.publish(TopicArn=topic, Message="delivered")
    assert _bodies(sqs, url, wait=5) == ["delivered"]


def _wait(condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)
