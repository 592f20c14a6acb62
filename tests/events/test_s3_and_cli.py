"""S3 -> EventBridge -> SQS end to end (a bucket with EventBridgeConfiguration), and the AWS CLI for the
commands the labs type."""

from __future__ import annotations

import json
from typing import Any

from tests.events.conftest import allow_events, receive_all

ACCOUNT = "000000000000"


def test_s3_events_reach_a_queue_through_the_default_bus(client: Any, events: Any, sqs: Any) -> None:
    s3 = client("s3")
    s3.create_bucket(Bucket="photos")
    s3.put_bucket_versioning(Bucket="photos", VersioningConfiguration={"Status": "Enabled"})
    url = sqs.create_queue(QueueName="uploads")["QueueUrl"]
    rule = events.put_rule(Name="uploads", EventPattern=json.dumps({
        "source": ["aws.s3"], "detail-type": ["Object Created", "Object Deleted"],
        "detail": {"bucket": {"name": ["photos"]}, "object": {"key": [{"prefix": "uploads/"}]}}}))["RuleArn"]
    arn = allow_events(sqs, url, rule)
    events.put_targets(Rule="uploads", Targets=[{"Id": "q", "Arn": arn}])
    s3.put_object(Bucket="photos", Key="uploads/before.jpg", Body=b"x")  # not enabled yet: no event
    s3.put_bucket_notification_configuration(Bucket="photos", NotificationConfiguration={"EventBridgeConfiguration": {}})
    assert s3.get_bucket_notification_configuration(Bucket="photos")["EventBridgeConfiguration"] == {}

    put = s3.put_object(Bucket="photos", Key="uploads/a b.jpg", Body=b"12345")
    s3.put_object(Bucket="photos", Key="elsewhere/x.jpg", Body=b"no")  # outside the rule's prefix
    s3.delete_object(Bucket="photos", Key="uploads/a b.jpg")  # a delete marker (versioned bucket)
    created, deleted = (json.loads(m["Body"]) for m in receive_all(sqs, url, 2))
    assert {k: created[k] for k in ("version", "detail-type", "source", "account", "region", "resources")} == {
        "version": "0", "detail-type": "Object Created", "source": "aws.s3", "account": ACCOUNT,
        "region": "us-east-1", "resources": ["arn:aws:s3:::photos"]}
    detail = created["detail"]
    assert detail["version"] == "0" and detail["bucket"] == {"name": "photos"}
    assert detail["object"]["key"] == "uploads/a b.jpg"  # not URL-encoded in EventBridge's events
    assert detail["object"]["size"] == 5 and detail["object"]["etag"] == put["ETag"].strip('"')
    assert detail["object"]["version-id"] == put["VersionId"]
    assert len(detail["object"]["sequencer"]) == 18 and detail["reason"] == "PutObject"
    assert detail["requester"] == ACCOUNT and detail["source-ip-address"] == "127.0.0.1" and detail["request-id"]
    assert deleted["detail-type"] == "Object Deleted"
    assert deleted["detail"]["reason"] == "DeleteObject" and deleted["detail"]["deletion-type"] == "Delete Marker Created"
    assert deleted["detail"]["object"]["sequencer"] > detail["object"]["sequencer"]
    assert receive_all(sqs, url, 0, wait=0) == []


def test_the_cli_for_the_common_commands(aws: Any, sqs: Any) -> None:
    url = sqs.create_queue(QueueName="cli")["QueueUrl"]
    arn = allow_events(sqs, url)
    rule = aws("events", "put-rule", "--name", "orders", "--event-pattern", '{"source": ["shop"]}')
    assert rule["RuleArn"] == f"arn:aws:events:us-east-1:{ACCOUNT}:rule/orders"
    aws("events", "put-rule", "--name", "hourly", "--schedule-expression", "rate(1 hour)", "--state", "DISABLED")
    targets = aws("events", "put-targets", "--rule", "orders", "--targets",
                  json.dumps([{"Id": "q", "Arn": arn, "InputPath": "$.detail"}]))
    assert targets == {"FailedEntryCount": 0, "FailedEntries": []}
    assert [r["Name"] for r in aws("events", "list-rules")["Rules"]] == ["hourly", "orders"]
    assert [r["Name"] for r in aws("events", "list-rules", "--name-prefix", "ord")["Rules"]] == ["orders"]
    assert aws("events", "describe-rule", "--name", "hourly")["State"] == "DISABLED"
    assert aws("events", "list-targets-by-rule", "--rule", "orders")["Targets"][0]["InputPath"] == "$.detail"
    answer = aws("events", "put-events", "--entries",
                 json.dumps([{"Source": "shop", "DetailType": "order", "Detail": '{"n": 7}'}]))
    assert answer["FailedEntryCount"] == 0
    (message,) = receive_all(sqs, url, 1)
    assert json.loads(message["Body"]) == {"n": 7}
    result = aws("events", "test-event-pattern", "--event-pattern", '{"detail": {"n": [{"numeric": [">", 5]}]}}',
                 "--event", json.dumps({"id": "1", "account": ACCOUNT, "source": "shop", "time": "2024-01-01T00:00:00Z",
                                        "region": "us-east-1", "detail-type": "order", "detail": {"n": 7}}))
    assert result == {"Result": True}
    aws("events", "create-event-bus", "--name", "orders-bus")
    assert [b["Name"] for b in aws("events", "list-event-buses")["EventBuses"]] == ["default", "orders-bus"]
    aws("events", "remove-targets", "--rule", "orders", "--ids", "q")
    aws("events", "delete-rule", "--name", "orders")
    failed = aws("events", "describe-rule", "--name", "orders", check=False)
    assert failed.returncode != 0
    assert "ResourceNotFoundException" in failed.stderr.decode()
    assert "Rule orders does not exist on EventBus default." in failed.stderr.decode()


def test_restores_reach_the_default_bus(client: Any, events: Any, sqs: Any) -> None:
    """https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html: Object Restore Initiated and
    Object Restore Completed (with the copy's expiry and the source storage class)."""
    s3 = client("s3")
    s3.create_bucket(Bucket="archive")
    url = sqs.create_queue(QueueName="restores")["QueueUrl"]
    rule = events.put_rule(Name="restores", EventPattern=json.dumps({
        "source": ["aws.s3"], "detail-type": [{"prefix": "Object Restore"}]}))["RuleArn"]
    events.put_targets(Rule="restores", Targets=[{"Id": "q", "Arn": allow_events(sqs, url, rule)}])
    s3.put_bucket_notification_configuration(Bucket="archive", NotificationConfiguration={"EventBridgeConfiguration": {}})
    s3.put_object(Bucket="archive", Key="old.tar", Body=b"t", StorageClass="DEEP_ARCHIVE")
    s3.restore_object(Bucket="archive", Key="old.tar", RestoreRequest={"Days": 1})
    done, started = sorted((json.loads(m["Body"]) for m in receive_all(sqs, url, 2)), key=lambda e: e["detail-type"])
    assert (done["detail-type"], started["detail-type"]) == ("Object Restore Completed", "Object Restore Initiated")
    assert done["detail"]["source-storage-class"] == "DEEP_ARCHIVE" and done["detail"]["restore-expiry-time"]
    assert "reason" not in started["detail"] and started["detail"]["object"]["key"] == "old.tar"


def test_tag_changes_reach_the_default_bus(client: Any, events: Any, sqs: Any) -> None:
    s3 = client("s3")
    s3.create_bucket(Bucket="tagged")
    url = sqs.create_queue(QueueName="tags")["QueueUrl"]
    rule = events.put_rule(Name="tags", EventPattern=json.dumps({
        "source": ["aws.s3"], "detail-type": ["Object Tags Added", "Object Tags Deleted"]}))["RuleArn"]
    events.put_targets(Rule="tags", Targets=[{"Id": "q", "Arn": allow_events(sqs, url, rule)}])
    s3.put_bucket_notification_configuration(Bucket="tagged", NotificationConfiguration={"EventBridgeConfiguration": {}})
    s3.put_object(Bucket="tagged", Key="k", Body=b"t")
    s3.put_object_tagging(Bucket="tagged", Key="k", Tagging={"TagSet": [{"Key": "a", "Value": "b"}]})
    s3.delete_object_tagging(Bucket="tagged", Key="k")
    kinds = sorted(json.loads(m["Body"])["detail-type"] for m in receive_all(sqs, url, 2))
    assert kinds == ["Object Tags Added", "Object Tags Deleted"]
