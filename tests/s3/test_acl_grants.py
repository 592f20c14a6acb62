"""ACLs with grants, through boto3: grant headers and AccessControlPolicy documents on buckets whose Object
Ownership leaves ACLs enabled, read back as S3 shows them, refused where ownership or Block Public Access
forbids them, and enforced for anonymous callers.
https://docs.aws.amazon.com/AmazonS3/latest/userguide/acl-overview.html"""

from __future__ import annotations

import uuid

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
EVERYONE = f'uri="{ALL_USERS}"'


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


@pytest.fixture
def anonymous(endpoint):  # type: ignore[no-untyped-def]
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        config=Config(signature_version=UNSIGNED, s3={"addressing_style": "path"},
                                      retries={"max_attempts": 1}))


@pytest.fixture
def acl_bucket(s3) -> str:  # type: ignore[no-untyped-def]
    """A bucket with ACLs enabled (ObjectWriter) and Block Public Access off."""
    name = f"acl-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name, ObjectOwnership="ObjectWriter")
    s3.delete_public_access_block(Bucket=name)
    return name


def test_object_grants_by_header_are_kept_and_enforced(s3, anonymous, acl_bucket):
    s3.put_object(Bucket=acl_bucket, Key="open", Body=b"hello", GrantRead=EVERYONE)
    s3.put_object(Bucket=acl_bucket, Key="closed", Body=b"secret")
    grants = s3.get_object_acl(Bucket=acl_bucket, Key="open")["Grants"]
    assert {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"} in grants
    assert anonymous.get_object(Bucket=acl_bucket, Key="open")["Body"].read() == b"hello"
    with pytest.raises(ClientError) as exc:
        anonymous.get_object(Bucket=acl_bucket, Key="closed")
    assert _code(exc) == "AccessDenied"
    # Granting afterwards opens it; a canned private ACL closes it again.
    s3.put_object_acl(Bucket=acl_bucket, Key="closed", GrantRead=EVERYONE, GrantFullControl='id="abc123"')
    assert anonymous.get_object(Bucket=acl_bucket, Key="closed")["Body"].read() == b"secret"
    grants = s3.get_object_acl(Bucket=acl_bucket, Key="closed")["Grants"]
    assert {"Grantee": {"Type": "CanonicalUser", "ID": "abc123"}, "Permission": "FULL_CONTROL"} in grants
    s3.put_object_acl(Bucket=acl_bucket, Key="closed", ACL="private")
    with pytest.raises(ClientError) as exc:
        anonymous.get_object(Bucket=acl_bucket, Key="closed")
    assert _code(exc) == "AccessDenied"


def test_bucket_acl_documents(s3, anonymous, acl_bucket):
    owner = s3.get_bucket_acl(Bucket=acl_bucket)["Owner"]
    s3.put_object(Bucket=acl_bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError):
        anonymous.list_objects_v2(Bucket=acl_bucket)
    s3.put_bucket_acl(Bucket=acl_bucket, AccessControlPolicy={"Owner": owner, "Grants": [
        {"Grantee": {"Type": "CanonicalUser", "ID": owner["ID"]}, "Permission": "FULL_CONTROL"},
        {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"}]})
    got = s3.get_bucket_acl(Bucket=acl_bucket)["Grants"]
    assert got[1] == {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"}
    assert [o["Key"] for o in anonymous.list_objects_v2(Bucket=acl_bucket)["Contents"]] == ["k"]
    # A public bucket ACL keeps the bucket from becoming BucketOwnerEnforced until it is private again.
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_ownership_controls(Bucket=acl_bucket, OwnershipControls={
            "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    assert _code(exc) == "InvalidBucketAclWithObjectOwnership"
    refused = {
        "MalformedACLError": {"Owner": owner, "Grants": [{"Grantee": {"Type": "Group", "URI": ALL_USERS},
                                                          "Permission": "EVERYTHING"}]},
        "InvalidArgument": {"Owner": owner, "Grants": [{"Grantee": {"Type": "Group", "URI": "http://x/y"},
                                                        "Permission": "READ"}]},
        "UnresolvableGrantByEmailAddress": {"Owner": owner, "Grants": [
            {"Grantee": {"Type": "AmazonCustomerByEmail", "EmailAddress": "a@example.com"}, "Permission": "READ"}]},
    }
    for code, document in refused.items():
        with pytest.raises(ClientError) as exc:
            s3.put_bucket_acl(Bucket=acl_bucket, AccessControlPolicy=document)
        assert _code(exc) == code


def test_grants_refused_where_ownership_or_block_public_access_forbids(s3, bucket, acl_bucket):
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=acl_bucket, Key="k", Body=b"x", ACL="public-read", GrantRead=EVERYONE)
    assert _code(exc) == "InvalidRequest"  # a canned ACL and grant headers at once
    # A new bucket's defaults: ACLs disabled (BucketOwnerEnforced).
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as exc:
        s3.put_object_acl(Bucket=bucket, Key="k", GrantRead=EVERYONE)
    assert _code(exc) == "AccessControlListNotSupported"
    # Block Public Access back on: public grants are refused, private ones still work.
    s3.put_public_access_block(Bucket=acl_bucket, PublicAccessBlockConfiguration={"BlockPublicAcls": True})
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=acl_bucket, Key="k", Body=b"x", GrantRead=EVERYONE)
    assert _code(exc) == "AccessDenied"
    s3.put_object(Bucket=acl_bucket, Key="k", Body=b"x", GrantRead='id="someone"')
