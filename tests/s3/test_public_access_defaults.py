"""S3's defaults since April 2023 (Block Public Access on, ACLs disabled), the lab's way to make a bucket
public, and anonymous writes judged like every other anonymous request."""

from __future__ import annotations

import json
import uuid

import pytest
import requests
from botocore.exceptions import ClientError

ALL_ON = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}


def code(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    return exc.value.response["Error"]["Code"], exc.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_a_new_bucket_blocks_public_access_and_disables_acls(s3, bucket, aws):
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == ALL_ON
    assert aws("s3api", "get-public-access-block", "--bucket", bucket)["PublicAccessBlockConfiguration"] == ALL_ON
    rules = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    # Setting any ACL fails; a PUT may name bucket-owner-full-control, and reading ACLs still works.
    for acl in ("public-read", "private", "authenticated-read"):
        with pytest.raises(ClientError) as exc:
            s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL=acl)
        assert code(exc) == ("AccessControlListNotSupported", 400)
        assert exc.value.response["Error"]["Message"] == "The bucket does not allow ACLs"
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="bucket-owner-full-control")
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    calls = [
        lambda: s3.put_object(Bucket=bucket, Key="g", Body=b"x", GrantRead='uri="http://acs.amazonaws.com/groups/global/AllUsers"'),
        lambda: s3.put_bucket_acl(Bucket=bucket, ACL="private"),
        lambda: s3.put_object_acl(Bucket=bucket, Key="k", ACL="public-read"),
        lambda: s3.copy_object(Bucket=bucket, Key="c", CopySource={"Bucket": bucket, "Key": "k"}, ACL="public-read"),
        lambda: s3.create_multipart_upload(Bucket=bucket, Key="m", ACL="public-read"),
    ]
    for call in calls:
        with pytest.raises(ClientError) as exc:
            call()
        assert code(exc) == ("AccessControlListNotSupported", 400)
    owner_only = [g["Permission"] for g in s3.get_bucket_acl(Bucket=bucket)["Grants"]]
    assert owner_only == ["FULL_CONTROL"]
    assert [g["Permission"] for g in s3.get_object_acl(Bucket=bucket, Key="k")["Grants"]] == ["FULL_CONTROL"]
    result = aws("s3api", "put-object-acl", "--bucket", bucket, "--key", "k", "--acl", "public-read", check=False)
    assert result.returncode != 0 and b"AccessControlListNotSupported" in result.stderr


def test_creating_a_bucket_with_acls(s3):
    name = f"acl-{uuid.uuid4().hex[:10]}"
    with pytest.raises(ClientError) as exc:
        s3.create_bucket(Bucket=name, ACL="public-read")
    assert code(exc) == ("InvalidBucketAclWithObjectOwnership", 400)
    assert exc.value.response["Error"]["Message"] == (
        "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting")
    with pytest.raises(ClientError) as exc:  # ACLs enabled, but Block Public Access is on from the start
        s3.create_bucket(Bucket=name, ACL="public-read", ObjectOwnership="ObjectWriter")
    assert code(exc) == ("InvalidBucketAclWithBlockPublicAccessError", 400)
    assert name not in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    s3.create_bucket(Bucket=name, ACL="private", ObjectOwnership="ObjectWriter")
    assert s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "ObjectWriter"}]
    s3.put_object(Bucket=name, Key="k", Body=b"x", ACL="private")  # ACLs work on this bucket
    s3.delete_public_access_block(Bucket=name)
    s3.put_bucket_acl(Bucket=name, ACL="public-read")
    with pytest.raises(ClientError) as exc:  # a public bucket ACL must go before ACLs can be disabled
        s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls={"Rules": [
            {"ObjectOwnership": "BucketOwnerEnforced"}]})
    assert code(exc) == ("InvalidBucketAclWithObjectOwnership", 400)
    s3.put_bucket_acl(Bucket=name, ACL="private")
    s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls={"Rules": [
        {"ObjectOwnership": "BucketOwnerEnforced"}]})
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls={"Rules": [{"ObjectOwnership": "Nobody"}]})
    assert code(exc) == ("MalformedXML", 400)
    s3.delete_bucket_ownership_controls(Bucket=name)
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_ownership_controls(Bucket=name)
    assert code(exc) == ("OwnershipControlsNotFoundError", 404)


def test_the_labs_public_read_steps(s3, bucket, endpoint, aws):
    """Uncheck "Block all public access", paste the public-read policy, open the image anonymously."""
    s3.put_object(Bucket=bucket, Key="uploads/myimage.jpg", Body=b"\xff\xd8image")
    url = f"{endpoint}/{bucket}/uploads/myimage.jpg"
    assert requests.get(url).status_code == 403
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "PublicReadObjects", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*"}]})
    result = aws("s3api", "put-bucket-policy", "--bucket", bucket, "--policy", policy, check=False)
    assert result.returncode != 0 and b"AccessDenied" in result.stderr  # Block Public Access is still on
    # The console's "uncheck Block all public access" writes all four settings off.
    aws("s3api", "put-public-access-block", "--bucket", bucket, "--public-access-block-configuration",
        "BlockPublicAcls=false,IgnorePublicAcls=false,BlockPublicPolicy=false,RestrictPublicBuckets=false")
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == dict.fromkeys(ALL_ON, False)
    aws("s3api", "put-bucket-policy", "--bucket", bucket, "--policy", policy)
    got = requests.get(url)
    assert got.status_code == 200 and got.content == b"\xff\xd8image"
    assert requests.put(url, data=b"overwrite").status_code == 403  # read-only for the public
    # delete-public-access-block works as well: no configuration at all.
    aws("s3api", "delete-public-access-block", "--bucket", bucket)
    with pytest.raises(ClientError) as exc:
        s3.get_public_access_block(Bucket=bucket)
    assert code(exc) == ("NoSuchPublicAccessBlockConfiguration", 404)


def test_nobody_creates_a_bucket_anonymously(endpoint, s3):
    response = requests.put(f"{endpoint}/anonymous-bucket")
    assert response.status_code == 403 and "<Code>AccessDenied</Code>" in response.text
    assert "anonymous-bucket" not in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert requests.get(f"{endpoint}/").status_code == 403  # nor lists all buckets


def _post(endpoint: str, bucket: str, key: str, body: bytes, **fields: str) -> requests.Response:
    return requests.post(f"{endpoint}/{bucket}", data={"key": key, **fields}, files={"file": ("f.txt", body)})


def test_a_form_upload_without_policy_is_an_anonymous_put(endpoint, s3, bucket):
    s3.put_object(Bucket=bucket, Key="uploads/kept.txt", Body=b"original")
    refused = _post(endpoint, bucket, "uploads/kept.txt", b"overwritten")
    assert refused.status_code == 403 and "<Code>AccessDenied</Code>" in refused.text
    assert s3.get_object(Bucket=bucket, Key="uploads/kept.txt")["Body"].read() == b"original"
    assert _post(endpoint, bucket, "uploads/new.txt", b"x").status_code == 403
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="uploads/new.txt")
    # Missing key: S3's own error, before anything is stored.
    assert "Bucket POST must contain a field named 'key'" in requests.post(
        f"{endpoint}/{bucket}", files={"file": ("f.txt", b"x")}).text
    # A bucket policy that lets anyone PUT under uploads/ lets the form in (once public policies are allowed).
    s3.delete_public_access_block(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/uploads/*"}]}))
    assert _post(endpoint, bucket, "uploads/new.txt", b"public drop").status_code == 204
    assert s3.get_object(Bucket=bucket, Key="uploads/new.txt")["Body"].read() == b"public drop"
    assert _post(endpoint, bucket, "elsewhere.txt", b"x").status_code == 403
    # ACLs are disabled on the bucket: a form asking for one is refused.
    acl = _post(endpoint, bucket, "uploads/acl.txt", b"x", acl="public-read")
    assert acl.status_code == 400 and "AccessControlListNotSupported" in acl.text


def test_a_form_upload_into_a_public_write_acl_bucket(endpoint, s3):
    name = f"pw-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name, ObjectOwnership="ObjectWriter")
    assert _post(endpoint, name, "a.txt", b"x").status_code == 403
    s3.delete_public_access_block(Bucket=name)
    s3.put_bucket_acl(Bucket=name, ACL="public-read-write")
    assert _post(endpoint, name, "a.txt", b"by anyone").status_code == 204
    assert s3.get_object(Bucket=name, Key="a.txt")["Body"].read() == b"by anyone"
