"""s3:ObjectTagging:Put, s3:ObjectTagging:Delete and s3:ObjectAcl:Put events, which a notification
configuration may ask for (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-event-types-and-destinations.html)."""

from __future__ import annotations

import uuid

from tests.helpers import wait_for
from tests.s3.test_notification_destinations import lab_policy
from tests.s3.test_restore_events import _records


def test_tag_and_acl_changes_send_their_events(s3, endpoint, make_client):
    bucket = f"acl-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket, ObjectOwnership="ObjectWriter")
    sqs = make_client(endpoint, "sqs")
    url = sqs.create_queue(QueueName="changes")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": lab_policy(arn, bucket)})
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [
        {"Id": "tags", "QueueArn": arn, "Events": ["s3:ObjectTagging:*", "s3:ObjectAcl:Put"]}]})
    test_event = wait_for(lambda: sqs.receive_message(QueueUrl=url).get("Messages"), what="the test event")
    sqs.delete_message(QueueUrl=url, ReceiptHandle=test_event[0]["ReceiptHandle"])
    put = s3.put_object(Bucket=bucket, Key="doc.txt", Body=b"d")  # no ObjectCreated wanted: no event

    s3.put_object_tagging(Bucket=bucket, Key="doc.txt", Tagging={"TagSet": [{"Key": "a", "Value": "b"}]})
    s3.delete_object_tagging(Bucket=bucket, Key="doc.txt")
    s3.put_object_acl(Bucket=bucket, Key="doc.txt", ACL="private")
    records = _records(sqs, url, 3)
    assert [r["eventName"] for r in records] == ["ObjectTagging:Put", "ObjectTagging:Delete", "ObjectAcl:Put"]
    assert {r["s3"]["object"]["key"] for r in records} == {"doc.txt"}
    assert records[0]["s3"]["object"]["eTag"] == put["ETag"].strip('"')
    sequencers = [r["s3"]["object"]["sequencer"] for r in records]
    assert sequencers == sorted(sequencers) and len(set(sequencers)) == 3
    assert records[0]["s3"]["configurationId"] == "tags"
