"""Event notifications into SQS (exact records, test event, durable outbox) and crash safety of uploads."""

from __future__ import annotations

import json
import socket
import time
from datetime import datetime
from urllib.parse import unquote_plus, urlparse

import pytest
from botocore.exceptions import ClientError


@pytest.fixture
def sqs(endpoint, make_client):  # type: ignore[no-untyped-def]
    c = make_client(endpoint, "sqs")
    try:
        c.list_queues()
    except ClientError as exc:  # pragma: no cover - SQS not part of this build
        pytest.skip(f"SQS is not available: {exc}")
    return c


def s3_may_send(arn: str, action: str = "sqs:SendMessage") -> str:
    """The queue (or topic) policy that lets this account's buckets deliver events, as the AWS guide writes it:
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/grant-destinations-permissions-to-s3.html"""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "s3-events", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": action,
        "Resource": arn, "Condition": {"StringEquals": {"aws:SourceAccount": "000000000000"}}}]})


def _queue(sqs, name, allow_s3=True):  # type: ignore[no-untyped-def]
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    if allow_s3:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": s3_may_send(arn)})
    return url, arn


def _receive(sqs, url, n=1, timeout=5.0):  # type: ignore[no-untyped-def]
    got: list[dict] = []
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        # No long polls: the shared server runs on a manual clock.
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        for m in messages:
            got.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        if not messages:
            time.sleep(0.05)
    return got


def _configure(s3, bucket, arn, events=("s3:ObjectCreated:*",), prefix="uploads/"):  # type: ignore[no-untyped-def]
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [{
        "Id": "to-queue", "QueueArn": arn, "Events": list(events),
        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": prefix}]}}}]})


def test_test_event_and_object_created_record(s3, sqs, bucket):
    url, arn = _queue(sqs, "events")
    _configure(s3, bucket, arn)
    [test] = _receive(sqs, url)
    assert test["Event"] == "s3:TestEvent" and test["Bucket"] == bucket and test["Service"] == "Amazon S3"
    key = "uploads/my photo ü+1.jpg"
    etag = s3.put_object(Bucket=bucket, Key=key, Body=b"12345")["ETag"].strip('"')
    s3.put_object(Bucket=bucket, Key="elsewhere/ignored.jpg", Body=b"x")  # filtered out by prefix
    [event] = _receive(sqs, url)
    [rec] = event["Records"]
    assert rec["eventVersion"] == "2.1" and rec["eventSource"] == "aws:s3"
    assert rec["awsRegion"] == "us-east-1" and rec["eventName"] == "ObjectCreated:Put"
    assert rec["eventTime"].endswith("Z")
    assert set(rec["userIdentity"]) == {"principalId"}
    assert set(rec["requestParameters"]) == {"sourceIPAddress"}
    assert set(rec["responseElements"]) == {"x-amz-request-id", "x-amz-id-2"}
    s3rec = rec["s3"]
    assert s3rec["s3SchemaVersion"] == "1.0" and s3rec["configurationId"] == "to-queue"
    assert s3rec["bucket"]["name"] == bucket and s3rec["bucket"]["arn"] == f"arn:aws:s3:::{bucket}"
    assert "principalId" in s3rec["bucket"]["ownerIdentity"]
    obj = s3rec["object"]
    assert obj["key"] == "uploads/my+photo+%C3%BC%2B1.jpg"
    assert unquote_plus(obj["key"]) == key
    assert obj["size"] == 5 and obj["eTag"] == etag
    assert "versionId" not in obj
    int(obj["sequencer"], 16)
    assert _receive(sqs, url, timeout=1.5) == []


def test_sequencer_increases_and_event_names(s3, sqs, bucket):
    url, arn = _queue(sqs, "names")
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [
        {"QueueArn": arn, "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]}]})
    _receive(sqs, url)  # test event
    s3.put_object(Bucket=bucket, Key="k", Body=b"1")
    s3.copy_object(Bucket=bucket, Key="k2", CopySource={"Bucket": bucket, "Key": "k"})
    s3.delete_object(Bucket=bucket, Key="k")
    uid = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1, Body=b"p")["ETag"]
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    records = [e["Records"][0] for e in _receive(sqs, url, n=4)]
    assert [r["eventName"] for r in records] == ["ObjectCreated:Put", "ObjectCreated:Copy", "ObjectRemoved:Delete",
                                                 "ObjectCreated:CompleteMultipartUpload"]
    seqs = [int(r["s3"]["object"]["sequencer"], 16) for r in records]
    assert seqs == sorted(seqs) and len(set(seqs)) == 4
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.delete_object(Bucket=bucket, Key="k2")
    [event] = _receive(sqs, url)
    rec = event["Records"][0]
    assert rec["eventName"] == "ObjectRemoved:DeleteMarkerCreated" and rec["s3"]["object"]["versionId"]


def test_removal_events_carry_the_time_of_the_deletion(s3, sqs, bucket, advance):
    """eventTime is when S3 finished the request that caused the event, not when the removed object was
    written (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html)."""
    url, arn = _queue(sqs, "removals")
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [
        {"QueueArn": arn, "Events": ["s3:ObjectRemoved:*"]}]})
    _receive(sqs, url)  # test event
    s3.put_object(Bucket=bucket, Key="plain", Body=b"1")
    deleted_at = advance(3600)
    s3.delete_object(Bucket=bucket, Key="plain")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    version = s3.put_object(Bucket=bucket, Key="kept", Body=b"2")["VersionId"]
    version_deleted_at = advance(3600)
    s3.delete_object(Bucket=bucket, Key="kept", VersionId=version)
    records = [e["Records"][0] for e in _receive(sqs, url, n=2)]
    assert [r["eventName"] for r in records] == ["ObjectRemoved:Delete", "ObjectRemoved:Delete"]
    times = [datetime.fromisoformat(r["eventTime"].replace("Z", "+00:00")).timestamp() for r in records]
    assert times == [pytest.approx(deleted_at, abs=0.002), pytest.approx(version_deleted_at, abs=0.002)]


def test_notification_configuration_validation(s3, sqs, bucket):
    _, arn = _queue(sqs, "valid")
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [
            {"QueueArn": arn.replace("valid", "missing"), "Events": ["s3:ObjectCreated:*"]}]})
    assert exc.value.response["Error"]["Code"] == "InvalidArgument"
    assert "Unable to validate the following destination configurations" in exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [
            {"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}, {"QueueArn": arn, "Events": ["s3:ObjectCreated:Put"]}]})
    assert "overlap" in exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
            "LambdaFunctionConfigurations": [{"LambdaFunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:f",
                                              "Events": ["s3:ObjectCreated:*"]}]})
    assert exc.value.response["Error"]["Code"] == "InvalidArgument"
    _configure(s3, bucket, arn)
    conf = s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]
    assert conf[0]["QueueArn"] == arn and conf[0]["Events"] == ["s3:ObjectCreated:*"]


def _raw_put(endpoint: str, path: str, total: int, send: int) -> socket.socket:
    u = urlparse(endpoint)
    sock = socket.create_connection((u.hostname, u.port))
    head = (f"PUT {path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nContent-Length: {total}\r\n"
            "Authorization: AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/s3/aws4_request, "
            "SignedHeaders=host, Signature=0000\r\nx-amz-content-sha256: UNSIGNED-PAYLOAD\r\n"
            "x-amz-date: 20250101T000000Z\r\n\r\n")
    sock.sendall(head.encode() + b"x" * send)
    return sock


def test_sigkill_mid_upload_leaves_nothing_and_acknowledged_data_survives(start_server, tmp_path):
    server = start_server(tmp_path / "data")
    s3 = server.client("s3")
    s3.create_bucket(Bucket="crash")
    big = b"acknowledged" * 10_000  # over the inline limit: a blob file
    s3.put_object(Bucket="crash", Key="../../etc/passwd", Body=big)
    s3.put_object(Bucket="crash", Key="small", Body=b"inline")  # kept inside the metadata database
    sock = _raw_put(server.endpoint, "/crash/partial", 50 * 1024 * 1024, 3 * 1024 * 1024)
    time.sleep(0.5)
    server.kill()
    sock.close()
    server = start_server(tmp_path / "data")
    s3 = server.client("s3")
    assert s3.get_object(Bucket="crash", Key="../../etc/passwd")["Body"].read() == big
    assert s3.get_object(Bucket="crash", Key="small")["Body"].read() == b"inline"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="crash")["Contents"]] == ["../../etc/passwd", "small"]
    blobs = tmp_path / "data" / "s3" / "blobs"
    assert not any((blobs / "tmp").iterdir())
    assert len([p for p in blobs.rglob("*") if p.is_file()]) == 1
    assert not (tmp_path / "etc").exists()


def test_event_for_acknowledged_put_survives_kill(start_server, tmp_path):
    server = start_server(tmp_path / "data")
    s3, sqs = server.client("s3"), server.client("sqs")
    try:
        url, arn = _queue(sqs, "durable")
    except ClientError as exc:  # pragma: no cover
        pytest.skip(f"SQS is not available: {exc}")
    s3.create_bucket(Bucket="durable")
    _configure(s3, "durable", arn)
    s3.put_object(Bucket="durable", Key="uploads/a b.txt", Body=b"x")
    server.kill()
    server = start_server(tmp_path / "data")
    sqs = server.client("sqs")
    url = sqs.get_queue_url(QueueName="durable")["QueueUrl"]
    events = _receive(sqs, url, n=2)
    keys = [unquote_plus(e["Records"][0]["s3"]["object"]["key"]) for e in events if "Records" in e]
    # Delivered at least once, as AWS promises: a kill between SQS's commit and the outbox row's deletion
    # can repeat the event, never lose it.
    assert keys and set(keys) == {"uploads/a b.txt"}


def test_deleted_queue_does_not_block_other_events(s3, sqs, bucket):
    gone_url, gone_arn = _queue(sqs, "gone")
    url, arn = _queue(sqs, "stays")
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [
        {"QueueArn": gone_arn, "Events": ["s3:ObjectCreated:*"], "Filter": {"Key": {"FilterRules": [
            {"Name": "prefix", "Value": "a/"}]}}},
        {"QueueArn": arn, "Events": ["s3:ObjectCreated:*"], "Filter": {"Key": {"FilterRules": [
            {"Name": "prefix", "Value": "b/"}]}}}]})
    _receive(sqs, url)
    sqs.delete_queue(QueueUrl=gone_url)
    s3.put_object(Bucket=bucket, Key="a/lost", Body=b"")
    s3.put_object(Bucket=bucket, Key="b/kept", Body=b"")
    [event] = _receive(sqs, url)
    assert event["Records"][0]["s3"]["object"]["key"] == "b/kept"


def test_post_upload_emits_post_event(s3, sqs, bucket):
    import requests

    url, arn = _queue(sqs, "posts")
    _configure(s3, bucket, arn)
    _receive(sqs, url)
    post = s3.generate_presigned_post(bucket, "uploads/${filename}")
    assert requests.post(post["url"], data=post["fields"], files={"file": ("a b.png", b"img")}).status_code == 204
    [event] = _receive(sqs, url)
    rec = event["Records"][0]
    assert rec["eventName"] == "ObjectCreated:Post" and unquote_plus(rec["s3"]["object"]["key"]) == "uploads/a b.png"


def test_topic_destination_fans_out_to_sqs(s3, sqs, bucket, endpoint, make_client):
    sns = make_client(endpoint, "sns")
    try:
        topic = sns.create_topic(Name="uploads")["TopicArn"]
    except ClientError as exc:  # pragma: no cover - SNS not part of this build
        pytest.skip(f"SNS is not available: {exc}")
    url, arn = _queue(sqs, "fanout")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=s3_may_send(topic, "sns:Publish"))
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"TopicConfigurations": [
        {"TopicArn": topic, "Events": ["s3:ObjectCreated:Put"]}]})
    [test] = _receive(sqs, url)
    assert test["Type"] == "Notification" and json.loads(test["Message"])["Event"] == "s3:TestEvent"
    s3.put_object(Bucket=bucket, Key="x y.txt", Body=b"1")
    [note] = _receive(sqs, url)
    assert note["Subject"] == "Amazon S3 Notification"
    rec = json.loads(note["Message"])["Records"][0]
    assert rec["eventName"] == "ObjectCreated:Put" and rec["s3"]["object"]["key"] == "x+y.txt"
