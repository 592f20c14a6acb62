"""A server on a 50 MiB data disk, filled through the API: writes are refused with each service's
retryable error, health says so, deletes and purges still work, and deleting objects brings writes back."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import lambda_role

MIB = 1024 * 1024


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 50 MiB tmpfs, or a skip where this machine cannot mount one."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        pytest.skip("mounting a small disk needs Linux and root")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=50m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        if subprocess.run(["umount", str(mount)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def _disk(endpoint: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{endpoint}/_conveyor/health", timeout=10) as response:
        return json.load(response)["disk"]


def _refused(error: ClientError, code: str) -> bool:
    return (error.response["Error"]["Code"] == code
            and error.response["ResponseMetadata"]["HTTPStatusCode"] == 503)


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return buf.getvalue()


def test_a_full_disk_refuses_writes_and_still_deletes(small_disk: Path, start_server) -> None:  # noqa: ANN001
    server = start_server(small_disk / "data")
    s3, sqs = server.client("s3"), server.client("sqs")
    iam = server.client("iam")
    role = lambda_role(iam)
    iam.create_user(UserName="leaving")
    r53 = server.client("route53")
    zone = r53.create_hosted_zone(Name="leaving.example", CallerReference="leaving")["HostedZone"]["Id"]
    record = {"Name": "www.leaving.example", "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "192.0.2.1"}]}
    r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={
        "Changes": [{"Action": "CREATE", "ResourceRecordSet": record}]})
    check = r53.create_health_check(CallerReference="leaving", HealthCheckConfig={
        "Type": "TCP", "IPAddress": "127.0.0.1", "Port": 9, "Disabled": True})["HealthCheck"]["Id"]
    s3.create_bucket(Bucket="filled")
    url = sqs.create_queue(QueueName="waiting", Attributes={"VisibilityTimeout": "600"})["QueueUrl"]
    for i in range(30):
        sqs.send_message(QueueUrl=url, MessageBody=f"before {i}")
    assert _disk(server.endpoint)["full"] is False

    # S3 fills the disk: the upload that does not fit is refused with S3's retryable SlowDown.
    stored = 0
    with pytest.raises(ClientError) as refused:
        for stored in range(60):  # noqa: B007 - how many made it is checked below
            s3.put_object(Bucket="filled", Key=f"object-{stored}", Body=os.urandom(MIB))
    assert _refused(refused.value, "SlowDown") and stored > 20
    assert _disk(server.endpoint)["full"] is True
    with pytest.raises(ClientError, match="404"):
        s3.head_object(Bucket="filled", Key=f"object-{stored}")  # nothing of the refused upload was kept

    # SQS keeps storing until only the room kept for deletes is left, then refuses with ServiceUnavailable.
    with pytest.raises(ClientError) as refused:
        for _ in range(200):
            sqs.send_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "MessageBody": "x" * 60_000} for i in range(4)])
    assert _refused(refused.value, "ServiceUnavailable")
    # So do the other services, each in its own protocol's shape.
    with pytest.raises(ClientError) as refused:
        server.client("sns").create_topic(Name="no-room")
    assert _refused(refused.value, "ServiceUnavailable")
    with pytest.raises(ClientError) as refused:
        server.client("lambda").create_function(
            FunctionName="no-room", Runtime="python3.12", Role=role,
            Handler="handler.handler", Code={"ZipFile": _zip()})
    assert _refused(refused.value, "ServiceUnavailable")
    with pytest.raises(ClientError) as refused:
        iam.create_user(UserName="no-room")
    assert _refused(refused.value, "ServiceUnavailable")
    iam.delete_user(UserName="leaving")  # IAM's deletes run in the room kept for them
    # Route 53's deletes too, though each keeps a small row (the change, the caller reference it spends).
    with pytest.raises(ClientError) as refused:
        r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [
            {"Action": "CREATE", "ResourceRecordSet": {**record, "Name": "no-room.leaving.example"}}]})
    assert _refused(refused.value, "ServiceUnavailable")
    r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={
        "Changes": [{"Action": "DELETE", "ResourceRecordSet": record}]})
    r53.delete_health_check(HealthCheckId=check)
    r53.delete_hosted_zone(Id=zone)

    # Receiving, deleting and purging still work.
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert len(got) == 10
    for message in got:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    sqs.purge_queue(QueueUrl=url)
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == attrs["ApproximateNumberOfMessagesNotVisible"] == "0"

    # Deleting objects frees the disk, and writes are served again.
    for i in range(stored):
        s3.delete_object(Bucket="filled", Key=f"object-{i}")
    assert _disk(server.endpoint)["full"] is False
    s3.put_object(Bucket="filled", Key="after", Body=os.urandom(MIB))
    sqs.send_message(QueueUrl=url, MessageBody="after")
    assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "after"
    # A receive commits behind its answer; an acknowledged SQS write after it is durable with it.
    sqs.tag_queue(QueueUrl=url, Tags={"received": "after"})
    assert s3.get_object(Bucket="filled", Key="after")["ContentLength"] == MIB

    # And what was acknowledged around the full disk is still there after kill -9.
    server.kill()
    again = start_server(small_disk / "data")
    assert again.client("s3").head_object(Bucket="filled", Key="after")["ContentLength"] == MIB
    attrs = again.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (attrs["ApproximateNumberOfMessages"], attrs["ApproximateNumberOfMessagesNotVisible"]) == ("0", "1")
