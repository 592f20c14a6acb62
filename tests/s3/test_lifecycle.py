"""S3 Lifecycle through boto3: configurations stored with AWS's validation, and the rules carried out by the
midnight sweep on the server's manual clock (expiration, noncurrent-version expiration, expired delete
markers, transitions, aborting incomplete multipart uploads).
https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketLifecycleConfiguration.html
https://docs.aws.amazon.com/AmazonS3/latest/userguide/intro-lifecycle-rules.html"""

from __future__ import annotations

import datetime as dt
import math

import pytest
from botocore.exceptions import ClientError
from tests.helpers import wait_for

DAY = 86400


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def _rule(**extra: object) -> dict[str, object]:
    return {"ID": "r", "Status": "Enabled", "Filter": {"Prefix": "logs/"}, **extra}


def _keys(s3, bucket: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def _to_midnight_after(advance, days: int) -> None:  # type: ignore[no-untyped-def]
    """Move the clock past the midnight on which an action `days` after now falls due (and its sweep)."""
    now = advance(0)
    due = math.ceil((now + days * DAY) / DAY) * DAY
    advance(due - now + 1)


def test_configuration_is_validated_stored_and_deleted(s3, bucket):
    refused = {
        "MalformedXML": [_rule(Prefix="x", Expiration={"Days": 1}),  # a Filter and a Prefix
                         {"ID": "r", "Status": "Enabled", "Expiration": {"Days": 1}},  # neither
                         _rule(Filter={"Prefix": "a", "Tag": {"Key": "k", "Value": "v"}}, Expiration={"Days": 1}),
                         _rule(Expiration={"Days": 1, "ExpiredObjectDeleteMarker": True}),
                         _rule(NoncurrentVersionTransitions=[{"NoncurrentDays": 30}])],
        "InvalidRequest": [_rule()],  # no action at all
        "InvalidArgument": [_rule(Expiration={"Days": 0}),
                            _rule(Expiration={"Date": dt.datetime(2030, 1, 1, 12, tzinfo=dt.UTC)}),
                            _rule(Transitions=[{"Days": 10, "StorageClass": "STANDARD_IA"}])],
    }
    for code, rules in refused.items():
        for rule in rules:
            with pytest.raises(ClientError) as exc:
                s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [rule]})
            assert _code(exc) == code, rule
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
            _rule(Expiration={"Days": 1}), _rule(Expiration={"Days": 2})]})
    assert _code(exc) == "InvalidArgument"  # the same ID twice
    rules = [_rule(Expiration={"Days": 7}, NoncurrentVersionExpiration={"NoncurrentDays": 3}),
             {"ID": "old", "Status": "Disabled", "Prefix": "tmp/",
              "Transitions": [{"Date": dt.datetime(2030, 1, 1, tzinfo=dt.UTC), "StorageClass": "GLACIER"}]}]
    put = s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    assert put["TransitionDefaultMinimumObjectSize"] == "all_storage_classes_128K"
    got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert got["Rules"][0] == rules[0]
    assert got["Rules"][1]["Prefix"] == "tmp/" and "Filter" not in got["Rules"][1]
    assert got["Rules"][1]["Transitions"][0]["Date"] == dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    s3.delete_bucket_lifecycle(Bucket=bucket)
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert _code(exc) == "NoSuchLifecycleConfiguration"
    assert exc.value.response["Error"]["BucketName"] == bucket


def test_expiration_deletes_matching_objects_at_the_midnight_they_fall_due(s3, bucket, advance):
    s3.put_object(Bucket=bucket, Key="logs/1-old", Body=b"old")
    s3.put_object(Bucket=bucket, Key="keep/other", Body=b"other")
    advance(DAY)
    s3.put_object(Bucket=bucket, Key="logs/0-new", Body=b"new")  # listed (and swept) before logs/1-old
    s3.put_object_tagging(Bucket=bucket, Key="logs/0-new", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        _rule(Expiration={"Days": 1})]})
    _to_midnight_after(advance, 0)
    # logs/1-old was written more than a day before this midnight: gone; logs/0-new is not due yet.
    wait_for(lambda: "logs/1-old" not in _keys(s3, bucket), what="the old log expired")
    assert _keys(s3, bucket) == ["keep/other", "logs/0-new"]
    _to_midnight_after(advance, 1)
    wait_for(lambda: _keys(s3, bucket) == ["keep/other"], what="the new log expired")


def test_versioned_bucket_gets_delete_markers_then_loses_noncurrent_versions(s3, bucket, advance):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bucket, Key="logs/a", Body=b"1")["VersionId"]
    second = s3.put_object(Bucket=bucket, Key="logs/a", Body=b"2")["VersionId"]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        _rule(Expiration={"Days": 1}, NoncurrentVersionExpiration={"NoncurrentDays": 2}),
        {"ID": "markers", "Status": "Enabled", "Filter": {"Prefix": "gone/"},
         "Expiration": {"ExpiredObjectDeleteMarker": True}}]})
    s3.put_object(Bucket=bucket, Key="gone/b", Body=b"x")
    listed = s3.list_object_versions(Bucket=bucket, Prefix="gone/")["Versions"]
    s3.delete_object(Bucket=bucket, Key="gone/b", VersionId=listed[0]["VersionId"])
    s3.delete_object(Bucket=bucket, Key="gone/b")  # a delete marker with nothing behind it

    _to_midnight_after(advance, 1)

    def marked() -> bool:
        versions = s3.list_object_versions(Bucket=bucket, Prefix="logs/")
        return bool(versions.get("DeleteMarkers"))

    wait_for(marked, what="a delete marker on the expired current version")
    versions = s3.list_object_versions(Bucket=bucket, Prefix="logs/")
    assert [v["VersionId"] for v in versions["Versions"]] == [second, first]
    assert versions["DeleteMarkers"][0]["IsLatest"] is True
    wait_for(lambda: "DeleteMarkers" not in s3.list_object_versions(Bucket=bucket, Prefix="gone/"),
             what="the expired delete marker removed")
    # The first version has been noncurrent since the second was written (day 0): due 2 days after.
    _to_midnight_after(advance, 2)
    wait_for(lambda: [v["VersionId"] for v in s3.list_object_versions(Bucket=bucket, Prefix="logs/")
                      .get("Versions", [])] == [], what="the noncurrent versions expired")


def test_transitions_and_incomplete_uploads(s3, bucket, advance):
    s3.put_object(Bucket=bucket, Key="logs/cold", Body=b"c")
    upload = s3.create_multipart_upload(Bucket=bucket, Key="logs/partial")["UploadId"]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        _rule(Transitions=[{"Days": 1, "StorageClass": "GLACIER"}],
              AbortIncompleteMultipartUpload={"DaysAfterInitiation": 1})]})
    _to_midnight_after(advance, 1)
    wait_for(lambda: not s3.list_multipart_uploads(Bucket=bucket).get("Uploads"), what="the upload aborted")
    wait_for(lambda: s3.head_object(Bucket=bucket, Key="logs/cold").get("StorageClass") == "GLACIER",
             what="the transition to GLACIER")
    with pytest.raises(ClientError) as exc:
        s3.list_parts(Bucket=bucket, Key="logs/partial", UploadId=upload)
    assert _code(exc) == "NoSuchUpload"


def test_a_disabled_rule_and_a_locked_version_are_left_alone(s3, advance):
    s3.create_bucket(Bucket="lifecycle-locked", ObjectLockEnabledForBucket=True)
    s3.put_object(Bucket="lifecycle-locked", Key="logs/held", Body=b"h", ObjectLockLegalHoldStatus="ON")
    s3.put_object(Bucket="lifecycle-locked", Key="tmp/x", Body=b"x")
    s3.put_object(Bucket="lifecycle-locked", Key="logs/free", Body=b"f")
    s3.put_bucket_lifecycle_configuration(Bucket="lifecycle-locked", LifecycleConfiguration={"Rules": [
        {"ID": "off", "Status": "Disabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 1}},
        _rule(NoncurrentVersionExpiration={"NoncurrentDays": 1}, Expiration={"Days": 1})]})
    _to_midnight_after(advance, 1)
    wait_for(lambda: _keys(s3, "lifecycle-locked") == ["tmp/x"], what="the logs expired (delete markers)")
    _to_midnight_after(advance, 1)  # now the held version is noncurrent and due, but held

    def only_held_left() -> bool:
        versions = s3.list_object_versions(Bucket="lifecycle-locked", Prefix="logs/").get("Versions", [])
        return [v["Key"] for v in versions] == ["logs/held"]

    wait_for(only_held_left, what="the free noncurrent version expired, the held one kept")
