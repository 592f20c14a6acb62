"""An S3 upload reaches SQS through SNS: a signed envelope whose Message is the S3 event, or the event
itself with raw delivery. The upload goes through the AWS CLI, as the pipeline's users do it."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from sns_helpers import body, verify


def test_s3_upload_arrives_as_an_sns_envelope(sns, subscribed, receive, client, aws, tmp_path):
    s3 = client("s3")
    s3.create_bucket(Bucket="photos")
    topic = sns.create_topic(Name="upload-events")["TopicArn"]
    wrapped, _ = subscribed(topic, "upload-jobs")
    raw, _ = subscribed(topic, "upload-raw", RawMessageDelivery="true")
    # The lab's topic access policy: S3 may publish for this bucket (without it S3 refuses the configuration).
    sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps({"Statement": [{
        "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "SNS:Publish", "Resource": topic,
        "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::photos"}}}]}))
    s3.put_bucket_notification_configuration(Bucket="photos", NotificationConfiguration={"TopicConfigurations": [{
        "TopicArn": topic, "Events": ["s3:ObjectCreated:*"],
        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "uploads/"}]}}}]})
    # Configuring the notification sends S3's test event through the topic first.
    test_event = json.loads(body(receive(wrapped)[0])["Message"])
    assert test_event["Event"] == "s3:TestEvent" and test_event["Bucket"] == "photos"
    assert json.loads(receive(raw)[0]["Body"])["Event"] == "s3:TestEvent"

    photo = tmp_path / "cat photo.jpg"
    photo.write_bytes(b"\xff\xd8" + b"x" * 1000)
    # Outside the prefix first: had it made an event, that event would arrive before the next one.
    aws("s3", "cp", str(photo), "s3://photos/elsewhere/cat.jpg")
    aws("s3", "cp", str(photo), "s3://photos/uploads/cat photo.jpg")

    (message,) = receive(wrapped)
    doc = body(message)
    assert doc["Type"] == "Notification" and doc["TopicArn"] == topic
    assert doc["Subject"] == "Amazon S3 Notification"
    verify(doc)
    (record,) = json.loads(doc["Message"])["Records"]
    assert record["eventSource"] == "aws:s3" and record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["bucket"]["name"] == "photos" and record["s3"]["bucket"]["arn"] == "arn:aws:s3:::photos"
    assert record["s3"]["object"]["key"] == "uploads/cat+photo.jpg" and record["s3"]["object"]["size"] == 1002
    # The raw subscription gets the very same event document as its body.
    (plain,) = receive(raw)
    assert json.loads(plain["Body"]) == json.loads(doc["Message"])
    assert s3.head_object(Bucket="photos", Key="uploads/cat photo.jpg")["ContentLength"] == 1002
    assert receive(wrapped, count=0) == [] and receive(raw, count=0) == []


def test_a_burst_of_uploads_arrives_once_each_signed(sns, subscribed, receive, client):
    """Uploads made together reach the queue through the topic in batches (conveyor.services.s3.outbox):
    each event once, in an envelope of its own with its own signature and message id."""
    s3 = client("s3")
    s3.create_bucket(Bucket="burst")
    topic = sns.create_topic(Name="burst-events")["TopicArn"]
    url, _ = subscribed(topic, "burst-jobs")
    sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps({"Statement": [{
        "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "SNS:Publish", "Resource": topic}]}))
    s3.put_bucket_notification_configuration(Bucket="burst", NotificationConfiguration={"TopicConfigurations": [{
        "TopicArn": topic, "Events": ["s3:ObjectCreated:*"]}]})
    assert json.loads(body(receive(url)[0])["Message"])["Event"] == "s3:TestEvent"
    keys = [f"photo-{i:02d}.jpg" for i in range(30)]
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda key: s3.put_object(Bucket="burst", Key=key, Body=key.encode()), keys))
    docs = [body(m) for m in receive(url, count=len(keys))]
    records = [json.loads(doc["Message"])["Records"][0] for doc in docs]
    assert sorted(r["s3"]["object"]["key"] for r in records) == keys
    assert len({doc["MessageId"] for doc in docs}) == len(keys)
    for doc in docs:
        verify(doc)
    assert receive(url, count=0) == []
