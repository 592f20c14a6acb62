"""S3 clients on top of the shared fixtures (`endpoint`, `reset`, `advance`, `aws`, `start_server`)."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest
from botocore.config import Config


def client(endpoint: str, service: str = "s3", **s3_options: str):  # type: ignore[no-untyped-def]
    return boto3.client(
        service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(s3=s3_options or {"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


@pytest.fixture
def make_client():  # type: ignore[no-untyped-def]
    return client


@pytest.fixture
def s3(endpoint):  # type: ignore[no-untyped-def]
    return client(endpoint)


@pytest.fixture
def bucket(s3) -> str:  # type: ignore[no-untyped-def]
    name = f"bkt-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def public_bucket(s3, bucket) -> str:  # type: ignore[no-untyped-def]
    """A bucket whose objects anyone may read, made public as on AWS today: Block Public Access off (a new
    bucket has it on), then a public-read bucket policy (ACLs are disabled on a new bucket)."""
    s3.delete_public_access_block(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "PublicReadObjects", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    return bucket
