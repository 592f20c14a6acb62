"""RestoreObject's events: s3:ObjectRestore:Post when the restore starts, :Completed (with its
glacierEventData) when the copy is readable, and :Delete when the copy expires at the midnight UTC after
its Days on the server's manual clock
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-event-types-and-destinations.html,
https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html)."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

from tests.helpers import wait_for
from tests.s3.test_notification_destinations import lab_policy

DAY = 86400.0


def _records(sqs: Any, url: str, count: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def enough() -> bool:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            body = json.loads(message["Body"])
            found.extend(body.get("Records", []))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return len(found) >= count

    wait_for(enough, what=f"{count} event records")
    return found


def test_a_restore_sends_post_completed_and_delete_events(s3, bucket, endpoint, make_client, advance):
    sqs = make_client(endpoint, "sqs")
    url = sqs.create_queue(QueueName="restores")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": lab_policy(arn, bucket)})
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [
        {"Id": "restores", "QueueArn": arn, "Events": ["s3:ObjectRestore:*"]}]})
    test_event = wait_for(lambda: sqs.receive_message(QueueUrl=url).get("Messages"), what="the test event")
    assert json.loads(test_event[0]["Body"])["Event"] == "s3:TestEvent"
    sqs.delete_message(QueueUrl=url, ReceiptHandle=test_event[0]["ReceiptHandle"])
    put = s3.put_object(Bucket=bucket, Key="cold data.bin", Body=b"frozen", StorageClass="GLACIER")

    now = advance(0)
    assert s3.restore_object(Bucket=bucket, Key="cold data.bin",
                             RestoreRequest={"Days": 2})["ResponseMetadata"]["HTTPStatusCode"] == 202
    post, completed = _records(sqs, url, 2)
    assert [post["eventName"], completed["eventName"]] == ["ObjectRestore:Post", "ObjectRestore:Completed"]
    assert post["s3"]["object"]["key"] == "cold+data.bin" and post["s3"]["object"]["eTag"] == put["ETag"].strip('"')
    assert post["s3"]["configurationId"] == "restores" and "glacierEventData" not in post
    until = math.ceil((now + 2 * DAY) / DAY) * DAY
    expiry = dt.datetime.fromtimestamp(until, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert completed["glacierEventData"] == {"restoreEventData": {
        "lifecycleRestorationExpiryTime": expiry, "lifecycleRestoreStorageClass": "GLACIER"}}
    assert s3.get_object(Bucket=bucket, Key="cold data.bin")["Body"].read() == b"frozen"
    # Asking again while restored only moves the expiry: no new restore, no event.
    assert s3.restore_object(Bucket=bucket, Key="cold data.bin",
                             RestoreRequest={"Days": 2})["ResponseMetadata"]["HTTPStatusCode"] == 200

    advance(until - now + 1)  # the midnight the copy expires: the sweep removes it
    (deleted,) = _records(sqs, url, 1)
    assert deleted["eventName"] == "ObjectRestore:Delete"
    assert deleted["userIdentity"] == {"principalId": "AmazonS3"}
    head = s3.head_object(Bucket=bucket, Key="cold data.bin")
    assert "Restore" not in head and head["StorageClass"] == "GLACIER"


def test_a_restore_acknowledged_before_a_kill_9_sends_both_its_events(start_server, tmp_path):
    """Post and Completed are committed with the restored copy in one commit: a crash leaves both or neither."""
    server = start_server(tmp_path / "data", "--clock", "manual")
    s3, sqs = server.client("s3"), server.client("sqs")
    url = sqs.create_queue(QueueName="restores")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": lab_policy(arn, "archive")})
    s3.create_bucket(Bucket="archive")
    s3.put_bucket_notification_configuration(Bucket="archive", NotificationConfiguration={"QueueConfigurations": [
        {"QueueArn": arn, "Events": ["s3:ObjectRestore:*"]}]})
    s3.put_object(Bucket="archive", Key="cold", Body=b"frozen", StorageClass="DEEP_ARCHIVE")
    assert s3.restore_object(Bucket="archive", Key="cold",
                             RestoreRequest={"Days": 1})["ResponseMetadata"]["HTTPStatusCode"] == 202
    server.kill()

    server = start_server(tmp_path / "data", "--clock", "manual")
    s3, sqs = server.client("s3"), server.client("sqs")
    names = [r["eventName"] for r in _records(sqs, url, 2)]
    wait_for(lambda: "ObjectRestore:Completed" in names or names.extend(
        r["eventName"] for r in _records(sqs, url, 1)), what="the Completed event")
    # At least once (a kill before the outbox forgot a delivered row repeats it), Post first, never alone.
    assert names[0] == "ObjectRestore:Post" and set(names) == {"ObjectRestore:Post", "ObjectRestore:Completed"}
    assert s3.get_object(Bucket="archive", Key="cold")["Body"].read() == b"frozen"
