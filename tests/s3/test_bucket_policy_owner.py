"""A bucket policy's explicit Deny binds the bucket owner's own signed requests, with `--iam off` too (the
shared server's mode): S3 evaluates the bucket policy for every principal and an explicit Deny wins
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html). An Allow
changes nothing for the owner, and the owner's root user may always read, replace and delete the policy
(https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketPolicy.html)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError


def _policy(bucket: str, *statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _denied(exc: pytest.ExceptionInfo[ClientError]) -> str:
    error = exc.value.response["Error"]
    assert (error["Code"], exc.value.response["ResponseMetadata"]["HTTPStatusCode"]) == ("AccessDenied", 403)
    return str(error["Message"])


def test_a_deny_on_unencrypted_puts_refuses_the_owner(s3, bucket):
    # AWS's documented pattern: refuse uploads that do not ask for server-side encryption.
    # https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingServerSideEncryption.html
    s3.put_bucket_policy(Bucket=bucket, Policy=_policy(bucket, {
        "Sid": "DenyUnencrypted", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
        "Condition": {"Null": {"s3:x-amz-server-side-encryption": "true"}}}))
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="plain", Body=b"x")
    assert _denied(exc) == (f'User: arn:aws:iam::000000000000:root is not authorized to perform: s3:PutObject on '
                            f'resource: "arn:aws:s3:::{bucket}/plain" with an explicit deny in a resource-based policy')
    with pytest.raises(ClientError) as exc:
        s3.create_multipart_upload(Bucket=bucket, Key="plain-mpu")
    _denied(exc)
    s3.put_object(Bucket=bucket, Key="sealed", Body=b"x", ServerSideEncryption="AES256")
    assert s3.get_object(Bucket=bucket, Key="sealed")["Body"].read() == b"x"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["sealed"]
    # A copy writes the destination: the same Deny applies to it.
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "sealed"})
    _denied(exc)


def test_a_deny_over_plain_http_locks_out_everything_but_the_policy_itself(s3, bucket, aws):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.put_bucket_policy(Bucket=bucket, Policy=_policy(bucket, {
        "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}))
    for call in (lambda: s3.get_object(Bucket=bucket, Key="k"), lambda: s3.list_objects_v2(Bucket=bucket),
                 lambda: s3.put_object(Bucket=bucket, Key="k2", Body=b"y"),
                 lambda: s3.delete_object(Bucket=bucket, Key="k"),
                 lambda: s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "a", "Value": "b"}]})):
        with pytest.raises(ClientError) as exc:
            call()
        _denied(exc)
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="k")
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    result = aws("s3api", "get-object", "--bucket", bucket, "--key", "k", "/dev/null", check=False)
    assert result.returncode != 0 and b"AccessDenied" in result.stderr
    # The owner's root user is never locked out of the policy itself.
    assert "SecureTransport" in s3.get_bucket_policy(Bucket=bucket)["Policy"]
    s3.delete_bucket_policy(Bucket=bucket)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"


def test_an_allow_for_someone_else_does_not_limit_the_owner(s3, bucket):
    s3.put_bucket_policy(Bucket=bucket, Policy=_policy(bucket, {
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*"}))
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"
    s3.delete_object(Bucket=bucket, Key="k")


def test_a_deny_on_some_keys_refuses_them_in_delete_objects_and_deletes_the_others(s3, bucket):
    for key in ("keep/a", "tmp/b"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    s3.put_bucket_policy(Bucket=bucket, Policy=_policy(bucket, {
        "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:DeleteObject",
        "Resource": f"arn:aws:s3:::{bucket}/keep/*"}))
    with pytest.raises(ClientError) as exc:
        s3.delete_object(Bucket=bucket, Key="keep/a")
    _denied(exc)
    answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "keep/a"}, {"Key": "tmp/b"}]})
    assert [d["Key"] for d in answer["Deleted"]] == ["tmp/b"]
    assert [(e["Key"], e["Code"]) for e in answer["Errors"]] == [("keep/a", "AccessDenied")]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["keep/a"]


def test_a_deny_naming_another_principal_leaves_the_owner_alone(s3, bucket):
    s3.put_bucket_policy(Bucket=bucket, Policy=_policy(bucket, {
        "Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::000000000000:user/intern"}, "Action": "s3:*",
        "Resource": f"arn:aws:s3:::{bucket}/*"}))
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"
