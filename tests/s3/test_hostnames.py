"""The lab's URLs: S3's own host names (virtual-hosted and path style, website endpoints) and SQS queue URLs
of the `sqs.REGION.amazonaws.com/ACCOUNT/NAME` form, reached with `curl --resolve` pointing the names at
Conveyor, as `/etc/hosts` would."""

from __future__ import annotations

import json
import subprocess
from urllib.parse import urlparse

import pytest


def curl(endpoint: str, host: str, path: str, *options: str) -> tuple[int, bytes, str]:
    """GET http://HOST:PORT/PATH with HOST resolved to the server; (status, body, headers)."""
    port = urlparse(endpoint).port
    result = subprocess.run(
        ["curl", "-s", "-D", "-", "--resolve", f"{host}:{port}:127.0.0.1", *options,
         f"http://{host}:{port}{path}"], capture_output=True, timeout=30, check=True)
    head, _, body = result.stdout.partition(b"\r\n\r\n")
    return int(head.split()[1]), body, head.decode("latin-1").lower()


@pytest.fixture
def photo(s3, public_bucket) -> str:  # type: ignore[no-untyped-def]
    s3.put_object(Bucket=public_bucket, Key="uploads/my image.jpg", Body=b"\xff\xd8jpeg")
    s3.put_object(Bucket=public_bucket, Key="private/x", Body=b"no")
    s3.put_bucket_policy(Bucket=public_bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{public_bucket}/uploads/*"}]}))
    return public_bucket


@pytest.mark.parametrize("suffix", ["s3.amazonaws.com", "s3.us-east-2.amazonaws.com", "s3-us-east-2.amazonaws.com",
                                    "s3.dualstack.us-east-2.amazonaws.com", "s3.localhost.localstack.cloud"])
def test_virtual_hosted_names(endpoint, photo, suffix):
    status, body, _ = curl(endpoint, f"{photo}.{suffix}", "/uploads/my%20image.jpg")
    assert (status, body) == (200, b"\xff\xd8jpeg")
    status, body, _ = curl(endpoint, f"{photo}.{suffix}", "/private/x")  # the bucket's policy applies
    assert status == 403 and b"<Code>AccessDenied</Code>" in body
    status, body, _ = curl(endpoint, f"not-{photo}.{suffix}", "/uploads/my%20image.jpg")
    assert status == 404 and b"<Code>NoSuchBucket</Code>" in body


@pytest.mark.parametrize("host", ["s3.amazonaws.com", "s3.us-east-2.amazonaws.com", "s3.localhost.localstack.cloud"])
def test_path_style_names(endpoint, photo, host):
    status, body, _ = curl(endpoint, host, f"/{photo}/uploads/my%20image.jpg")
    assert (status, body) == (200, b"\xff\xd8jpeg")


@pytest.mark.parametrize("suffix", ["s3-website-us-east-2.amazonaws.com", "s3-website.eu-central-1.amazonaws.com"])
def test_website_endpoints_answer_as_for_a_bucket_without_website_configuration(endpoint, photo, suffix):
    status, body, headers = curl(endpoint, f"{photo}.{suffix}", "/uploads/my%20image.jpg")
    assert status == 404 and "content-type: text/html; charset=utf-8" in headers
    assert "x-amz-error-code: nosuchwebsiteconfiguration" in headers
    assert b"<li>Code: NoSuchWebsiteConfiguration</li>" in body and f"<li>BucketName: {photo}</li>".encode() in body
    status, body, _ = curl(endpoint, f"missing-{photo}.{suffix}", "/")
    assert status == 404 and b"<li>Code: NoSuchBucket</li>" in body
    status, _, headers = curl(endpoint, f"{photo}.{suffix}", "/x", "-X", "PUT")
    assert status == 405 and "x-amz-error-code: methodnotallowed" in headers


def test_queue_urls_of_the_aws_form(endpoint, client):
    sqs = client("sqs")
    sqs.create_queue(QueueName="devops-sqs-queue")
    aws_url = "https://sqs.us-east-1.amazonaws.com/000000000000/devops-sqs-queue"
    status, body, _ = curl(endpoint, "sqs.us-east-1.amazonaws.com", "/000000000000/devops-sqs-queue"
                           "?Action=SendMessage&MessageBody=from%20curl")
    assert status == 200 and b"<MessageId>" in body
    # The SDK takes the AWS-form URL as QueueUrl, whatever endpoint it talks to.
    [message] = sqs.receive_message(QueueUrl=aws_url, WaitTimeSeconds=0)["Messages"]
    assert message["Body"] == "from curl"
