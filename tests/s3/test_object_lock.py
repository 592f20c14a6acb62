"""S3 Object Lock through boto3: bucket configuration and default retention, per-version retention and legal
hold, and the WORM refusals they cause, on the server's manual clock.
https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from botocore.exceptions import ClientError

PROTECTED = "Access Denied because object protected by object lock."


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    err = exc.value.response["Error"]
    return err["Code"], err.get("Message", "")


def _server_now(advance) -> dt.datetime:  # type: ignore[no-untyped-def]
    return dt.datetime.fromtimestamp(advance(0), dt.UTC)


@pytest.fixture
def locked_bucket(s3) -> str:  # type: ignore[no-untyped-def]
    name = f"lock-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return name


def test_lock_at_creation_enables_versioning_for_good(s3, locked_bucket):
    assert s3.get_bucket_versioning(Bucket=locked_bucket)["Status"] == "Enabled"
    assert s3.get_object_lock_configuration(Bucket=locked_bucket)["ObjectLockConfiguration"] == {
        "ObjectLockEnabled": "Enabled"}
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_versioning(Bucket=locked_bucket, VersioningConfiguration={"Status": "Suspended"})
    assert _error(exc)[0] == "InvalidBucketState"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409


def test_configuration_on_an_existing_bucket_needs_versioning_and_a_valid_body(s3, bucket):
    config = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}}
    with pytest.raises(ClientError) as exc:
        s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=config)
    assert _error(exc) == ("InvalidBucketState", "Versioning must be 'Enabled' on the bucket to apply a Object Lock "
                                                 "configuration")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    with pytest.raises(ClientError) as exc:
        s3.put_object_lock_configuration(Bucket=bucket)
    assert _error(exc) == ("MissingRequestBodyError", "Request Body is empty")
    for bad in ({}, {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE"}}},
                {"ObjectLockEnabled": "Enabled",
                 "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1, "Years": 1}}}):
        with pytest.raises(ClientError) as exc:
            s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=bad)
        assert _error(exc)[0] == "MalformedXML", bad
    s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=config)
    assert s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"] == config


def test_lock_settings_on_a_bucket_without_lock_are_refused(s3, bucket):
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", ObjectLockLegalHoldStatus="ON")
    assert _error(exc) == ("InvalidRequest", "Bucket is missing Object Lock Configuration")
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as exc:
        s3.get_object_retention(Bucket=bucket, Key="k")
    assert _error(exc)[0] == "InvalidRequest"


def test_compliance_retention_refuses_deleting_the_version_until_it_ends(s3, locked_bucket, advance):
    until = _server_now(advance) + dt.timedelta(hours=1)
    version = s3.put_object(Bucket=locked_bucket, Key="k", Body=b"data", ObjectLockMode="COMPLIANCE",
                            ObjectLockRetainUntilDate=until)["VersionId"]
    head = s3.head_object(Bucket=locked_bucket, Key="k")
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] == until.replace(microsecond=0)
    retention = s3.get_object_retention(Bucket=locked_bucket, Key="k", VersionId=version)["Retention"]
    assert retention["Mode"] == "COMPLIANCE"
    for bypass in (False, True):
        with pytest.raises(ClientError) as exc:
            s3.delete_object(Bucket=locked_bucket, Key="k", VersionId=version, BypassGovernanceRetention=bypass)
        assert _error(exc) == ("AccessDenied", PROTECTED)
    result = s3.delete_objects(Bucket=locked_bucket, Delete={"Objects": [{"Key": "k", "VersionId": version}]})
    assert result["Errors"] == [{"Key": "k", "VersionId": version, "Code": "AccessDenied", "Message": PROTECTED}]
    # A delete without a version id only adds a delete marker: always allowed.
    assert s3.delete_object(Bucket=locked_bucket, Key="k")["DeleteMarker"] is True
    # COMPLIANCE can be lengthened, never shortened.
    with pytest.raises(ClientError) as exc:
        s3.put_object_retention(Bucket=locked_bucket, Key="k", VersionId=version, BypassGovernanceRetention=True,
                                Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until - dt.timedelta(minutes=30)})
    assert _error(exc)[0] == "AccessDenied"
    advance(3601)
    s3.delete_object(Bucket=locked_bucket, Key="k", VersionId=version)
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=locked_bucket, Key="k", VersionId=version)
    assert exc.value.response["Error"]["Code"] == "404"


def test_governance_retention_yields_to_the_bypass(s3, locked_bucket, advance):
    until = _server_now(advance) + dt.timedelta(days=2)
    version = s3.put_object(Bucket=locked_bucket, Key="g", Body=b"data", ObjectLockMode="GOVERNANCE",
                            ObjectLockRetainUntilDate=until)["VersionId"]
    result = s3.delete_objects(Bucket=locked_bucket, Delete={"Objects": [{"Key": "g", "VersionId": version}]})
    assert result["Errors"][0]["Code"] == "AccessDenied"
    with pytest.raises(ClientError) as exc:  # shortening GOVERNANCE needs the bypass too
        s3.put_object_retention(Bucket=locked_bucket, Key="g", VersionId=version,
                                Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until - dt.timedelta(days=1)})
    assert _error(exc)[0] == "AccessDenied"
    result = s3.delete_objects(Bucket=locked_bucket, BypassGovernanceRetention=True,
                               Delete={"Objects": [{"Key": "g", "VersionId": version}]})
    assert result["Deleted"] == [{"Key": "g", "VersionId": version}]


def test_legal_hold_refuses_deleting_even_with_the_bypass(s3, locked_bucket):
    first = s3.put_object(Bucket=locked_bucket, Key="h", Body=b"1")["VersionId"]
    second = s3.put_object(Bucket=locked_bucket, Key="h", Body=b"2")["VersionId"]
    with pytest.raises(ClientError) as exc:
        s3.get_object_legal_hold(Bucket=locked_bucket, Key="h", VersionId=first)
    assert _error(exc)[0] == "NoSuchObjectLockConfiguration"
    s3.put_object_legal_hold(Bucket=locked_bucket, Key="h", VersionId=first, LegalHold={"Status": "ON"})
    assert s3.get_object_legal_hold(Bucket=locked_bucket, Key="h", VersionId=first)["LegalHold"] == {"Status": "ON"}
    assert s3.head_object(Bucket=locked_bucket, Key="h", VersionId=first)["ObjectLockLegalHoldStatus"] == "ON"
    assert "ObjectLockLegalHoldStatus" not in s3.head_object(Bucket=locked_bucket, Key="h", VersionId=second)
    with pytest.raises(ClientError) as exc:
        s3.delete_object(Bucket=locked_bucket, Key="h", VersionId=first, BypassGovernanceRetention=True)
    assert _error(exc) == ("AccessDenied", PROTECTED)
    s3.delete_object(Bucket=locked_bucket, Key="h", VersionId=second)  # the other version is not held
    s3.put_object_legal_hold(Bucket=locked_bucket, Key="h", VersionId=first, LegalHold={"Status": "OFF"})
    s3.delete_object(Bucket=locked_bucket, Key="h", VersionId=first)


def test_default_retention_applies_to_new_versions_not_to_copies_of_locks(s3, locked_bucket, advance):
    s3.put_object_lock_configuration(Bucket=locked_bucket, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}}})
    now = _server_now(advance)
    version = s3.put_object(Bucket=locked_bucket, Key="d", Body=b"x")["VersionId"]
    head = s3.head_object(Bucket=locked_bucket, Key="d")
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert abs((head["ObjectLockRetainUntilDate"] - now).total_seconds() - 86400) < 2
    with pytest.raises(ClientError):
        s3.delete_object(Bucket=locked_bucket, Key="d", VersionId=version)
    # A copy is locked as its own request and the bucket say, never with its source's legal hold.
    s3.put_object_legal_hold(Bucket=locked_bucket, Key="d", VersionId=version, LegalHold={"Status": "ON"})
    s3.copy_object(Bucket=locked_bucket, Key="copy", CopySource=f"{locked_bucket}/d")
    copied = s3.head_object(Bucket=locked_bucket, Key="copy")
    assert "ObjectLockLegalHoldStatus" not in copied and copied["ObjectLockMode"] == "COMPLIANCE"
    advance(86401)
    s3.put_object_legal_hold(Bucket=locked_bucket, Key="d", VersionId=version, LegalHold={"Status": "OFF"})
    s3.delete_object(Bucket=locked_bucket, Key="d", VersionId=version)


def test_bad_lock_headers_are_invalid_arguments(s3, locked_bucket, advance):
    past = _server_now(advance) - dt.timedelta(days=1)
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=locked_bucket, Key="p", Body=b"x", ObjectLockMode="GOVERNANCE",
                      ObjectLockRetainUntilDate=past)
    assert _error(exc) == ("InvalidArgument", "The retain until date must be in the future!")
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=locked_bucket, Key="p", Body=b"x", ObjectLockMode="GOVERNANCE")
    assert _error(exc)[0] == "InvalidArgument"
