"""Copying an object onto itself must change something, except where AWS allows it as it is: in a bucket whose
default encryption was configured (not merely the SSE-S3 every bucket has since 2023), or for an object
restored from an archive (recorded AWS answers: LocalStack's test_copy_in_place_with_bucket_encryption;
https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

ILLEGAL = ("This copy request is illegal because it is trying to copy an object to itself without changing the "
           "object's metadata, storage class, website redirect location or encryption attributes.")


def _copy_in_place(s3: Any, bucket: str, key: str) -> dict[str, Any]:
    result: dict[str, Any] = s3.copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": key})
    return result


def test_in_place_copies_need_a_change_unless_encryption_was_configured(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"data")
    with pytest.raises(ClientError) as exc:
        _copy_in_place(s3, bucket, "k")
    assert exc.value.response["Error"] == {"Code": "InvalidRequest", "Message": ILLEGAL}
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": False}]})
    assert _copy_in_place(s3, bucket, "k")["ServerSideEncryption"] == "AES256"
    s3.delete_bucket_encryption(Bucket=bucket)  # back to the default every bucket has
    with pytest.raises(ClientError):
        _copy_in_place(s3, bucket, "k")


def test_a_restored_object_may_be_copied_in_place(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="cold", Body=b"frozen", StorageClass="GLACIER")
    s3.restore_object(Bucket=bucket, Key="cold", RestoreRequest={"Days": 1})
    s3.copy_object(Bucket=bucket, Key="cold", CopySource={"Bucket": bucket, "Key": "cold"}, StorageClass="STANDARD")
    assert s3.head_object(Bucket=bucket, Key="cold").get("StorageClass") is None  # STANDARD again
    s3.put_object(Bucket=bucket, Key="cold2", Body=b"frozen", StorageClass="GLACIER")
    s3.restore_object(Bucket=bucket, Key="cold2", RestoreRequest={"Days": 1})
    _copy_in_place(s3, bucket, "cold2")
    assert s3.get_object(Bucket=bucket, Key="cold2")["Body"].read() == b"frozen"
