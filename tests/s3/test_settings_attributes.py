"""Bucket settings Conveyor does not offer answer as on a bucket without them; GetObjectAttributes."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

ABSENT = {
    "get_bucket_lifecycle_configuration": "NoSuchLifecycleConfiguration",  # (tests/s3/test_lifecycle.py)
    "get_bucket_website": "NoSuchWebsiteConfiguration",
    "get_bucket_replication": "ReplicationConfigurationNotFoundError",
    "get_object_lock_configuration": "ObjectLockConfigurationNotFoundError",  # (tests/s3/test_object_lock.py)
    "get_bucket_policy_status": "NoSuchBucketPolicy",
}


def test_unset_settings_answer_as_aws_does(s3, bucket, aws):
    for operation, code in ABSENT.items():
        with pytest.raises(ClientError) as exc:
            getattr(s3, operation)(Bucket=bucket)
        assert exc.value.response["Error"]["Code"] == code, operation
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        with pytest.raises(ClientError) as exc:
            getattr(s3, operation)(Bucket="no-such-bucket-here")
        assert exc.value.response["Error"]["Code"] == "NoSuchBucket"
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=bucket)
    assert "Status" not in s3.get_bucket_accelerate_configuration(Bucket=bucket)
    assert s3.get_bucket_request_payment(Bucket=bucket)["Payer"] == "BucketOwner"
    s3.delete_bucket_lifecycle(Bucket=bucket)  # deleting what is not there succeeds
    result = aws("s3api", "get-bucket-website", "--bucket", bucket, check=False)
    assert result.returncode != 0 and b"NoSuchWebsiteConfiguration" in result.stderr


def test_policy_status_follows_the_policy(s3, bucket):
    s3.delete_public_access_block(Bucket=bucket)  # else BlockPublicPolicy refuses the public policy below
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {**statement, "Principal": {"AWS": "arn:aws:iam::000000000000:root"}}]}))
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is False
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {**statement, "Principal": "*"}]}))
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is True


def test_get_object_attributes(s3, bucket, aws):
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"hello", ChecksumAlgorithm="SHA256")
    got = s3.get_object_attributes(Bucket=bucket, Key="k",
                                   ObjectAttributes=["ETag", "ObjectSize", "Checksum", "StorageClass"])
    assert got["ETag"] == put["ETag"].strip('"')  # the one S3 response with an unquoted ETag
    assert got["ObjectSize"] == 5 and got["StorageClass"] == "STANDARD"
    assert got["Checksum"]["ChecksumSHA256"] == put["ChecksumSHA256"]
    only_size = s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=["ObjectSize"])
    assert "ETag" not in only_size and only_size["ObjectSize"] == 5
    uid = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1, Body=b"x" * 10)
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    cli = aws("s3api", "get-object-attributes", "--bucket", bucket, "--key", "mp",
              "--object-attributes", "ObjectParts", "ObjectSize")
    assert cli["ObjectParts"]["TotalPartsCount"] == 1 and cli["ObjectSize"] == 10
    with pytest.raises(ClientError) as exc:
        s3.get_object_attributes(Bucket=bucket, Key="missing", ObjectAttributes=["ETag"])
    assert exc.value.response["Error"]["Code"] == "NoSuchKey"


def test_object_settings_are_carried_out_or_refused(s3, bucket, endpoint):
    """Nothing a request asks for is silently ignored: kept and echoed, or refused with AWS's error."""
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="AES256",
                        WebsiteRedirectLocation="/elsewhere", ExpectedBucketOwner="000000000000")
    assert put["ServerSideEncryption"] == "AES256"
    head = s3.head_object(Bucket=bucket, Key="k")
    assert head["ServerSideEncryption"] == "AES256" and head["WebsiteRedirectLocation"] == "/elsewhere"
    copy = s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "k"})
    assert copy["ServerSideEncryption"] == "AES256"
    refused = {
        "AccessDenied": dict(ExpectedBucketOwner="111111111111"),
        "InvalidRequest": dict(SSECustomerAlgorithm="AES256", SSECustomerKey="k" * 32),
        "InvalidArgument": dict(ServerSideEncryption="aws:kms:fake"),
    }
    for code, extra in refused.items():
        with pytest.raises(ClientError) as exc:
            s3.put_object(Bucket=bucket, Key="refused", Body=b"x", **extra)
        assert exc.value.response["Error"]["Code"] == code, extra
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="refused", Body=b"x", ObjectLockLegalHoldStatus="ON")
    assert exc.value.response["Error"]["Code"] == "InvalidRequest"
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="k", ExpectedBucketOwner="111111111111")
    assert exc.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="refused")


def test_request_payment_and_acceleration_are_kept(s3, bucket, aws):
    # https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketRequestPayment.html and
    # https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketAccelerateConfiguration.html
    s3.put_bucket_request_payment(Bucket=bucket, RequestPaymentConfiguration={"Payer": "Requester"})
    assert s3.get_bucket_request_payment(Bucket=bucket)["Payer"] == "Requester"
    aws("s3api", "put-bucket-request-payment", "--bucket", bucket,
        "--request-payment-configuration", "Payer=BucketOwner")
    assert s3.get_bucket_request_payment(Bucket=bucket)["Payer"] == "BucketOwner"
    s3.put_bucket_accelerate_configuration(Bucket=bucket, AccelerateConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_accelerate_configuration(Bucket=bucket)["Status"] == "Enabled"
    s3.put_bucket_accelerate_configuration(Bucket=bucket, AccelerateConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_accelerate_configuration(Bucket=bucket)["Status"] == "Suspended"
    s3.create_bucket(Bucket="dotted.bucket.name")
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_accelerate_configuration(Bucket="dotted.bucket.name",
                                               AccelerateConfiguration={"Status": "Enabled"})
    assert exc.value.response["Error"]["Code"] == "InvalidRequest"
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_request_payment(Bucket=bucket, RequestPaymentConfiguration={"Payer": "Nobody"})
    assert exc.value.response["Error"]["Code"] == "MalformedXML"
