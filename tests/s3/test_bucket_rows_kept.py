"""A bucket's row is kept in memory between writes (conveyor.services.s3.store): each change to the bucket
is seen by the very next request, as it is read from disk."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError


def test_each_bucket_change_is_seen_by_the_next_put(s3: Any, bucket: str) -> None:
    assert "VersionId" not in s3.put_object(Bucket=bucket, Key="k", Body=b"1")  # (the row is now kept)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bucket, Key="k", Body=b"2")["VersionId"]
    assert first != "null"

    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]})
    assert s3.put_object(Bucket=bucket, Key="k", Body=b"3")["ServerSideEncryption"] == "aws:kms"

    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert s3.put_object(Bucket=bucket, Key="k", Body=b"4").get("VersionId", "null") == "null"


def test_a_deleted_bucket_is_gone_for_the_next_request_and_comes_back_new(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"1")
    for version in s3.list_object_versions(Bucket=bucket)["Versions"]:
        s3.delete_object(Bucket=bucket, Key="k", VersionId=version["VersionId"])
    s3.delete_bucket(Bucket=bucket)
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=bucket, Key="k", Body=b"2")
    assert err.value.response["Error"]["Code"] == "NoSuchBucket"
    s3.create_bucket(Bucket=bucket)  # the same name, unversioned
    assert "VersionId" not in s3.put_object(Bucket=bucket, Key="k", Body=b"3")
