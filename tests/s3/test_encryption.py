"""Every object is encrypted: SSE-S3 (AES256) by default, SSE-KMS when a request or the bucket asks.

https://docs.aws.amazon.com/AmazonS3/latest/userguide/default-bucket-encryption.html (every bucket encrypts
with SSE-S3 by default since January 5, 2023; GetBucketEncryption answers that rule) and
https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketEncryption.html (S3 does not validate the KMS key).
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

DEFAULT_RULE = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": False}


def test_objects_report_sse_s3_by_default(s3, bucket):
    assert s3.put_object(Bucket=bucket, Key="k", Body=b"x")["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket=bucket, Key="k")["ServerSideEncryption"] == "AES256"
    assert s3.head_object(Bucket=bucket, Key="k")["ServerSideEncryption"] == "AES256"
    copy = s3.copy_object(Bucket=bucket, Key="c", CopySource={"Bucket": bucket, "Key": "k"})
    assert copy["ServerSideEncryption"] == "AES256"
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")
    assert upload["ServerSideEncryption"] == "AES256"
    part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload["UploadId"], PartNumber=1, Body=b"y")
    assert part["ServerSideEncryption"] == "AES256"
    done = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload["UploadId"],
                                        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    assert done["ServerSideEncryption"] == "AES256"
    assert s3.head_object(Bucket=bucket, Key="mp")["ServerSideEncryption"] == "AES256"


def test_bucket_encryption_default_put_and_delete(s3, bucket, aws):
    got = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    assert got["Rules"] == [DEFAULT_RULE]
    key_arn = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn},
        "BucketKeyEnabled": True}]})
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule == {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn},
                    "BucketKeyEnabled": True}
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert put["ServerSideEncryption"] == "aws:kms" and put["SSEKMSKeyId"] == key_arn
    assert put["BucketKeyEnabled"] is True
    head = s3.head_object(Bucket=bucket, Key="k")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == key_arn
    # A request's own header wins over the bucket's default.
    assert s3.put_object(Bucket=bucket, Key="s3", Body=b"x",
                         ServerSideEncryption="AES256")["ServerSideEncryption"] == "AES256"
    s3.delete_bucket_encryption(Bucket=bucket)
    assert aws("s3api", "get-bucket-encryption", "--bucket", bucket)[
        "ServerSideEncryptionConfiguration"]["Rules"] == [DEFAULT_RULE]
    assert s3.put_object(Bucket=bucket, Key="k2", Body=b"x")["ServerSideEncryption"] == "AES256"


def test_sse_kms_per_object_names_the_aws_managed_key(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="aws:kms")
    assert put["ServerSideEncryption"] == "aws:kms"
    assert put["SSEKMSKeyId"].startswith("arn:aws:kms:us-east-1:")
    assert s3.get_object(Bucket=bucket, Key="k")["SSEKMSKeyId"] == put["SSEKMSKeyId"]
    named = s3.put_object(Bucket=bucket, Key="n", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId="abc")
    assert named["SSEKMSKeyId"].endswith(":key/abc")


def test_bad_encryption_settings_are_refused(s3, bucket):
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="rot13")
    assert exc.value.response["Error"]["Code"] == "InvalidArgument"
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256", "KMSMasterKeyID": "k"}}]})
    assert exc.value.response["Error"]["Code"] == "InvalidArgument"
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_encryption(Bucket="no-such-bucket-here")
    assert exc.value.response["Error"]["Code"] == "NoSuchBucket"
