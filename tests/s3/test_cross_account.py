"""Another account's signed requests (with --auth off, an access key ID of 12 digits is that account's root
user, as in LocalStack) judged as S3 judges them: by the bucket policy, and where Object Ownership enables
ACLs by grants to the account's canonical id or to AuthenticatedUsers, and nothing more
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/acl-overview.html#acl-access-policy-permission-mapping,
https://docs.aws.amazon.com/AmazonS3/latest/userguide/example-walkthroughs-managing-access-example2.html)."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

OTHER = "111122223333"
OTHER_ID = hashlib.sha256(OTHER.encode()).hexdigest()  # its canonical user id


@pytest.fixture
def partner(endpoint: str) -> Any:
    """The other account's client."""
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=OTHER,
                        aws_secret_access_key="partner-secret",
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))


def _denied(call: Callable[[], Any]) -> None:
    with pytest.raises(ClientError) as exc:
        call()
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    if exc.value.response["Error"]["Code"] != "403":  # HEAD has no body
        assert exc.value.response["Error"]["Code"] == "AccessDenied"


def _acl_bucket(s3: Any) -> str:
    name = f"shared-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name, ObjectOwnership="ObjectWriter")
    s3.put_object(Bucket=name, Key="report.csv", Body=b"a,b")
    return name


def test_another_account_gets_nothing_by_default_and_owns_no_bucket(s3, bucket, partner, client):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert client("sts").get_caller_identity()["Account"] == "000000000000"
    for call in (lambda: partner.get_object(Bucket=bucket, Key="k"), lambda: partner.head_object(Bucket=bucket, Key="k"),
                 lambda: partner.list_objects_v2(Bucket=bucket),
                 lambda: partner.put_object(Bucket=bucket, Key="x", Body=b"y"),
                 lambda: partner.delete_object(Bucket=bucket, Key="k"),
                 lambda: partner.get_bucket_acl(Bucket=bucket), lambda: partner.put_bucket_versioning(
                     Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}),
                 lambda: partner.create_bucket(Bucket=f"theirs-{uuid.uuid4().hex[:8]}")):
        _denied(call)
    listing = partner.list_buckets()
    assert listing["Buckets"] == [] and listing["Owner"]["ID"] == OTHER_ID
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"  # the owner is untouched


def test_a_bucket_policy_naming_the_account_lets_it_do_what_it_says(s3, bucket, partner):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"}, "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{bucket}/*"},
        {"Effect": "Deny", "Principal": {"AWS": OTHER}, "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{bucket}/secret/*"}]}))
    s3.put_object(Bucket=bucket, Key="secret/s", Body=b"s")
    assert partner.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"
    _denied(lambda: partner.get_object(Bucket=bucket, Key="secret/s"))
    _denied(lambda: partner.put_object(Bucket=bucket, Key="k", Body=b"overwritten"))
    _denied(lambda: partner.list_objects_v2(Bucket=bucket))


def test_grants_to_the_accounts_canonical_id(s3, partner):
    name = _acl_bucket(s3)
    _denied(lambda: partner.list_objects_v2(Bucket=name))
    s3.put_bucket_acl(Bucket=name, GrantRead=f'id="{OTHER_ID}"', GrantFullControl=f'id="{s3.list_buckets()["Owner"]["ID"]}"')
    assert [o["Key"] for o in partner.list_objects_v2(Bucket=name)["Contents"]] == ["report.csv"]
    _denied(lambda: partner.get_object(Bucket=name, Key="report.csv"))  # READ on the bucket is not on its objects
    _denied(lambda: partner.put_object(Bucket=name, Key="new", Body=b"n"))
    _denied(lambda: partner.get_bucket_acl(Bucket=name))

    s3.put_object_acl(Bucket=name, Key="report.csv", GrantRead=f'id="{OTHER_ID}"')
    assert partner.get_object(Bucket=name, Key="report.csv")["Body"].read() == b"a,b"
    _denied(lambda: partner.get_object_acl(Bucket=name, Key="report.csv"))
    _denied(lambda: partner.delete_object(Bucket=name, Key="report.csv"))

    # WRITE on the bucket: it writes objects, which it owns there (ObjectWriter), and reads them back.
    s3.put_bucket_acl(Bucket=name, GrantRead=f'id="{OTHER_ID}"', GrantWrite=f'id="{OTHER_ID}"',
                      GrantReadACP=f'id="{OTHER_ID}"')
    partner.put_object(Bucket=name, Key="theirs.txt", Body=b"mine")
    assert partner.get_object(Bucket=name, Key="theirs.txt")["Body"].read() == b"mine"
    theirs = partner.get_object_acl(Bucket=name, Key="theirs.txt")
    assert theirs["Owner"]["ID"] == OTHER_ID
    assert theirs["Grants"] == [{"Grantee": {"ID": OTHER_ID, "Type": "CanonicalUser"}, "Permission": "FULL_CONTROL"}]
    grants = partner.get_bucket_acl(Bucket=name)["Grants"]
    assert {g["Permission"] for g in grants if g["Grantee"].get("ID") == OTHER_ID} == {"READ", "WRITE", "READ_ACP"}
    _denied(lambda: partner.put_bucket_acl(Bucket=name, ACL="private"))  # no WRITE_ACP
    partner.delete_object(Bucket=name, Key="report.csv")


def test_authenticated_users_grants_and_ignore_public_acls(s3, partner, endpoint):
    name = _acl_bucket(s3)
    s3.delete_public_access_block(Bucket=name)
    s3.put_object(Bucket=name, Key="open.txt", Body=b"o", ACL="authenticated-read")
    assert partner.get_object(Bucket=name, Key="open.txt")["Body"].read() == b"o"
    assert requests.get(f"{endpoint}/{name}/open.txt", timeout=10).status_code == 403  # anonymous is not
    s3.put_object_acl(Bucket=name, Key="report.csv", GrantRead=f'id="{OTHER_ID}"')
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={"IgnorePublicAcls": True})
    _denied(lambda: partner.get_object(Bucket=name, Key="open.txt"))  # a public grant, now ignored
    assert partner.get_object(Bucket=name, Key="report.csv")["Body"].read() == b"a,b"  # a grant to it is not


def test_an_explicit_deny_beats_a_grant(s3, partner):
    name = _acl_bucket(s3)
    s3.put_object_acl(Bucket=name, Key="report.csv", GrantRead=f'id="{OTHER_ID}"')
    assert partner.get_object(Bucket=name, Key="report.csv")["Body"].read() == b"a,b"
    s3.put_bucket_policy(Bucket=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": {"AWS": OTHER}, "Action": "s3:*", "Resource": f"arn:aws:s3:::{name}/*"}]}))
    _denied(lambda: partner.get_object(Bucket=name, Key="report.csv"))
    assert s3.get_object(Bucket=name, Key="report.csv")["Body"].read() == b"a,b"


def test_a_browser_form_signed_by_the_other_account(s3, partner):
    name = _acl_bucket(s3)
    form = partner.generate_presigned_post(Bucket=name, Key="upload.txt")
    refused = requests.post(form["url"], data=form["fields"], files={"file": b"nope"}, timeout=10)
    assert refused.status_code == 403 and b"AccessDenied" in refused.content
    s3.put_bucket_acl(Bucket=name, GrantWrite=f'id="{OTHER_ID}"')
    accepted = requests.post(form["url"], data=form["fields"], files={"file": b"hello"}, timeout=10)
    assert accepted.status_code == 204
    assert partner.get_object(Bucket=name, Key="upload.txt")["Body"].read() == b"hello"  # its own object


def test_a_missing_key_is_access_denied_without_list_permission(s3, bucket, partner):
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    with pytest.raises(ClientError) as exc:  # NoSuchKey would tell it which keys exist
        partner.get_object(Bucket=bucket, Key="missing")
    assert exc.value.response["Error"]["Code"] == "AccessDenied"


def test_the_bucket_owner_reads_another_accounts_object_only_as_its_acl_grants(s3, partner):
    """ObjectWriter: the writer owns what it writes. The bucket owner may delete it, but reads it, its ACL or
    changes its ACL only as the object's ACL grants it (https://docs.aws.amazon.com/AmazonS3/latest/userguide/acls.html)."""
    name = _acl_bucket(s3)
    owner_id = s3.list_buckets()["Owner"]["ID"]
    s3.put_bucket_acl(Bucket=name, GrantWrite=f'id="{OTHER_ID}"', GrantFullControl=f'id="{owner_id}"')
    partner.put_object(Bucket=name, Key="private.txt", Body=b"theirs")
    partner.put_object(Bucket=name, Key="readable.txt", Body=b"shared", ACL="bucket-owner-read")
    partner.put_object(Bucket=name, Key="full.txt", Body=b"all", ACL="bucket-owner-full-control")

    for call in (lambda: s3.get_object(Bucket=name, Key="private.txt"),
                 lambda: s3.head_object(Bucket=name, Key="private.txt"),
                 lambda: s3.get_object_acl(Bucket=name, Key="private.txt"),
                 lambda: s3.put_object_acl(Bucket=name, Key="private.txt", ACL="private"),
                 lambda: s3.copy_object(Bucket=name, Key="stolen.txt", CopySource=f"{name}/private.txt"),
                 lambda: s3.get_object_acl(Bucket=name, Key="readable.txt"),  # READ is not READ_ACP
                 lambda: s3.put_object_acl(Bucket=name, Key="readable.txt", ACL="private")):
        _denied(call)
    assert partner.get_object(Bucket=name, Key="private.txt")["Body"].read() == b"theirs"  # its owner reads it
    listed = {o["Key"]: o["Owner"]["ID"] for o in s3.list_objects_v2(Bucket=name, FetchOwner=True)["Contents"]}
    assert listed == {"report.csv": owner_id, "private.txt": OTHER_ID, "readable.txt": OTHER_ID, "full.txt": OTHER_ID}
    versions = {v["Key"]: v["Owner"]["ID"] for v in s3.list_object_versions(Bucket=name)["Versions"]}
    assert versions == listed

    assert s3.get_object(Bucket=name, Key="readable.txt")["Body"].read() == b"shared"
    s3.copy_object(Bucket=name, Key="copied.txt", CopySource=f"{name}/readable.txt")
    assert s3.get_object(Bucket=name, Key="copied.txt")["Body"].read() == b"shared"  # the copy is the owner's
    acl = s3.get_object_acl(Bucket=name, Key="full.txt")
    assert acl["Owner"]["ID"] == OTHER_ID
    assert acl["Grants"] == [{"Grantee": {"ID": OTHER_ID, "Type": "CanonicalUser"}, "Permission": "FULL_CONTROL"},
                             {"Grantee": {"ID": owner_id, "Type": "CanonicalUser"}, "Permission": "FULL_CONTROL"}]
    s3.put_object_acl(Bucket=name, Key="full.txt", GrantFullControl=f'id="{owner_id}"')  # WRITE_ACP granted

    partner.put_object_acl(Bucket=name, Key="private.txt", GrantRead=f'id="{owner_id}"')  # its owner grants it
    assert s3.get_object(Bucket=name, Key="private.txt")["Body"].read() == b"theirs"
    s3.delete_object(Bucket=name, Key="private.txt")  # the bucket owner deletes whatever is in its bucket
    assert "private.txt" not in [o["Key"] for o in s3.list_objects_v2(Bucket=name)["Contents"]]

    # Bucket owner enforced: the bucket owner owns every object again.
    partner.put_object(Bucket=name, Key="late.txt", Body=b"late")
    _denied(lambda: s3.get_object(Bucket=name, Key="late.txt"))
    s3.put_bucket_acl(Bucket=name, ACL="private")
    s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls={"Rules": [
        {"ObjectOwnership": "BucketOwnerEnforced"}]})
    assert s3.get_object(Bucket=name, Key="late.txt")["Body"].read() == b"late"
    assert s3.get_object_acl(Bucket=name, Key="late.txt")["Owner"]["ID"] == owner_id
    assert {o["Owner"]["ID"] for o in s3.list_objects_v2(Bucket=name, FetchOwner=True)["Contents"]} == {owner_id}
