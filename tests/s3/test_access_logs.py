"""Server access logging through boto3: PutBucketLogging's checks of the target bucket, and the log objects
delivered there on the server's manual clock.
https://docs.aws.amazon.com/AmazonS3/latest/userguide/ServerLogs.html"""

from __future__ import annotations

import json
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from tests.helpers import wait_for


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def _let_logging_write(s3, target: str, prefix: str = "") -> None:  # type: ignore[no-untyped-def]
    s3.put_bucket_policy(Bucket=target, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "S3ServerAccessLogsPolicy", "Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{target}/{prefix}*"}]}))


def test_the_target_must_exist_share_the_region_and_let_logging_write(s3, bucket, endpoint):
    target = f"logs-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=target)
    status = {"LoggingEnabled": {"TargetBucket": "no-such-log-bucket", "TargetPrefix": ""}}
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_logging(Bucket=bucket, BucketLoggingStatus=status)
    assert _code(exc) == "InvalidTargetBucketForLogging"
    status = {"LoggingEnabled": {"TargetBucket": target, "TargetPrefix": "access/"}}
    with pytest.raises(ClientError) as exc:  # no policy lets the logging service write there yet
        s3.put_bucket_logging(Bucket=bucket, BucketLoggingStatus=status)
    assert _code(exc) == "InvalidTargetBucketForLogging" and "bucket policy" in exc.value.response["Error"]["Message"]
    west = boto3.client("s3", endpoint_url=endpoint, region_name="us-west-2", aws_access_key_id="test",
                        aws_secret_access_key="test", config=Config(s3={"addressing_style": "path"}))
    far = f"far-{uuid.uuid4().hex[:10]}"
    west.create_bucket(Bucket=far, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    _let_logging_write(west, far)
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_logging(Bucket=bucket, BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": far,
                                                                                     "TargetPrefix": ""}})
    assert _code(exc) == "CrossLocationLoggingProhibited"
    _let_logging_write(s3, target, "access/")
    s3.put_bucket_logging(Bucket=bucket, BucketLoggingStatus=status)
    assert s3.get_bucket_logging(Bucket=bucket)["LoggingEnabled"] == {"TargetBucket": target,
                                                                      "TargetPrefix": "access/"}
    s3.put_bucket_logging(Bucket=bucket, BucketLoggingStatus={})  # an empty status turns it off
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=bucket)


def test_requests_are_delivered_as_log_objects(s3, bucket, advance):
    target = f"logs-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=target)
    _let_logging_write(s3, target)
    s3.put_bucket_logging(Bucket=bucket, BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": target,
                                                                                 "TargetPrefix": "access/"}})
    s3.put_object(Bucket=bucket, Key="photo.jpg", Body=b"jpeg")
    with pytest.raises(ClientError):
        s3.get_object(Bucket=bucket, Key="missing.jpg")
    assert "Contents" not in s3.list_objects_v2(Bucket=target)  # delivered in batches, not at once
    advance(301)

    def delivered() -> list[str]:
        return [o["Key"] for o in s3.list_objects_v2(Bucket=target).get("Contents", [])]

    [key] = wait_for(delivered, what="a log object")
    assert key.startswith("access/")
    text = s3.get_object(Bucket=target, Key=key)["Body"].read().decode()
    lines = [line for line in text.splitlines() if ".OBJECT " in line]  # the bucket requests are there too
    assert len(lines) == 2
    assert f" {bucket} " in lines[0] and "REST.PUT.OBJECT photo.jpg" in lines[0] and " 200 " in lines[0]
    assert "REST.GET.OBJECT missing.jpg" in lines[1] and " 404 NoSuchKey " in lines[1]


def _clock(server, seconds: float) -> None:  # type: ignore[no-untyped-def]
    import urllib.request

    request = urllib.request.Request(f"{server.endpoint}/_conveyor/clock", data=json.dumps({"advance": seconds})
                                     .encode(), method="POST")
    urllib.request.urlopen(request, timeout=30).close()


def test_records_of_answered_requests_survive_kill_9_and_are_delivered_once(start_server, tmp_path):
    """A record is on disk before its request is answered: a server killed before delivering delivers it
    after the restart; a server killed after writing a log object but before forgetting its records writes
    the same object again, not a second one."""
    spool = tmp_path / "data" / "s3" / "access-logs"
    server = start_server(tmp_path / "data", "--clock", "manual")
    s3 = server.client("s3")
    s3.create_bucket(Bucket="site")
    s3.create_bucket(Bucket="site-logs")
    _let_logging_write(s3, "site-logs")
    s3.put_bucket_logging(Bucket="site", BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": "site-logs",
                                                                                 "TargetPrefix": "raw/"}})
    s3.put_object(Bucket="site", Key="before-kill.txt", Body=b"x")
    server.kill()

    server = start_server(tmp_path / "data", "--clock", "manual")
    [left] = spool.glob("batch-*.jsonl")  # what the killed server had not delivered
    saved = left.read_bytes()
    s3 = server.client("s3")
    s3.put_object(Bucket="site", Key="after-restart.txt", Body=b"y")
    _clock(server, 301)

    def delivered() -> list[str]:
        return [o["Key"] for o in s3.list_objects_v2(Bucket="site-logs", Prefix="raw/").get("Contents", [])]

    def text() -> str:
        return "".join(s3.get_object(Bucket="site-logs", Key=key)["Body"].read().decode() for key in delivered())

    keys = wait_for(lambda: len(delivered()) == 2 and not list(spool.glob("batch-*")) and delivered(),
                    what="both batches delivered")
    assert text().count("REST.PUT.OBJECT before-kill.txt") == 1
    assert text().count("REST.PUT.OBJECT after-restart.txt") == 1
    server.kill()

    left.write_bytes(saved)  # as if killed between writing the log object and removing the batch
    server = start_server(tmp_path / "data", "--clock", "manual")
    s3 = server.client("s3")
    _clock(server, 301)
    wait_for(lambda: not left.exists(), what="the batch delivered again")
    assert delivered() == keys
    assert text().count("REST.PUT.OBJECT before-kill.txt") == 1
