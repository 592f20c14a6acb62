"""Live replication through boto3: PutBucketReplication checked as S3 checks it
(https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketReplication.html), new versions copied to
the destination bucket (another region's too) with ReplicationStatus PENDING then COMPLETED on the source
and REPLICA on the replica (https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-status.html),
rules filtered by prefix and tags, delete markers as DeleteMarkerReplication says, the storage class
override, and pending replication surviving kill -9."""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from tests.helpers import wait_for


def _versioned(s3: Any, name: str, **create: Any) -> str:
    s3.create_bucket(Bucket=name, **create)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


def _rule(destination: str, **more: Any) -> dict[str, Any]:
    return {"Status": "Enabled", "Destination": {"Bucket": f"arn:aws:s3:::{destination}"}, **more}


ROLE = "arn:aws:iam::000000000000:role/replication"
S3_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def _configure(s3: Any, source: str, *rules: dict[str, Any], role: str = ROLE) -> None:
    s3.put_bucket_replication(Bucket=source, ReplicationConfiguration={"Role": role, "Rules": list(rules)})


@pytest.fixture(autouse=True)
def replication_role(request: pytest.FixtureRequest, reset: None) -> None:
    """The role S3 replicates as, trusting s3.amazonaws.com, on the shared server (made after its reset)."""
    if "endpoint" in request.fixturenames or "s3" in request.fixturenames:
        iam = boto3.client("iam", endpoint_url=request.getfixturevalue("endpoint"), region_name="us-east-1",
                           aws_access_key_id="test", aws_secret_access_key="test")
        iam.create_role(RoleName="replication", AssumeRolePolicyDocument=S3_TRUST)


def _status(s3: Any, bucket: str, key: str, version_id: str | None = None) -> str | None:
    extra = {"VersionId": version_id} if version_id else {}
    return s3.head_object(Bucket=bucket, Key=key, **extra).get("ReplicationStatus")


def _completed(s3: Any, bucket: str, key: str) -> bool:
    return _status(s3, bucket, key) == "COMPLETED"


@pytest.fixture
def pair(s3: Any, endpoint: str) -> tuple[str, str]:
    """A versioned source in us-east-1 and a versioned destination in eu-west-1."""
    tag = uuid.uuid4().hex[:8]
    source = _versioned(s3, f"src-{tag}")
    ireland = boto3.client("s3", endpoint_url=endpoint, region_name="eu-west-1", aws_access_key_id="test",
                           aws_secret_access_key="test")
    destination = _versioned(ireland, f"dst-{tag}", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    return source, destination


def test_the_configuration_is_checked_stored_and_removed(s3, pair):
    source, destination = pair
    plain = f"plain-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=plain)
    with pytest.raises(ClientError) as exc:
        _configure(s3, plain, _rule(destination))
    assert _error(exc) == ("InvalidRequest",
                           "Versioning must be 'Enabled' on the bucket to apply a replication configuration")
    with pytest.raises(ClientError) as exc:
        _configure(s3, source, _rule("no-such-bucket-here"))
    assert _error(exc) == ("InvalidRequest", "Destination bucket must exist.")
    with pytest.raises(ClientError) as exc:
        _configure(s3, source, _rule(plain))
    assert _error(exc) == ("InvalidRequest", "Destination bucket must have versioning enabled.")
    with pytest.raises(ClientError) as exc:
        _configure(s3, source, _rule(destination, Filter={"Prefix": "a/"}))
    assert _error(exc) == ("InvalidRequest", "DeleteMarkerReplication must be specified for this version of Cross "
                           "Region Replication configuration schema.")
    with pytest.raises(ClientError) as exc:
        _configure(s3, source, _rule(destination, Destination={"Bucket": destination}))
    assert _error(exc)[0] == "InvalidArgument"
    with pytest.raises(ClientError) as exc:
        _configure(s3, source, _rule(destination, ExistingObjectReplication={"Status": "Enabled"}))
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_replication(Bucket=source)
    assert _error(exc) == ("ReplicationConfigurationNotFoundError", "The replication configuration was not found")

    _configure(s3, source, _rule(destination, ID="docs", Priority=1, Filter={"Prefix": "docs/"},
                                 DeleteMarkerReplication={"Status": "Disabled"}), _rule(destination, Prefix="old/"))
    rules = s3.get_bucket_replication(Bucket=source)["ReplicationConfiguration"]["Rules"]
    assert rules[0] == {"ID": "docs", "Priority": 1, "Filter": {"Prefix": "docs/"}, "Status": "Enabled",
                        "Destination": {"Bucket": f"arn:aws:s3:::{destination}"},
                        "DeleteMarkerReplication": {"Status": "Disabled"}}
    assert rules[1]["Prefix"] == "old/" and rules[1]["ID"]  # an ID made up where none was given
    s3.delete_bucket_replication(Bucket=source)
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_replication(Bucket=source)
    assert _error(exc)[0] == "ReplicationConfigurationNotFoundError"


def test_new_versions_replicate_to_another_region(s3, pair, aws):
    source, destination = pair
    s3.put_object(Bucket=source, Key="docs/before", Body=b"old")  # written before the rule: stays put
    _configure(s3, source, _rule(destination, Priority=1, Filter={"Prefix": "docs/"},
                                 DeleteMarkerReplication={"Status": "Disabled"},
                                 Destination={"Bucket": f"arn:aws:s3:::{destination}", "StorageClass": "STANDARD_IA"}))
    put = s3.put_object(Bucket=source, Key="docs/a.txt", Body=b"hello", ContentType="text/plain",
                        Metadata={"team": "blue"})
    assert _status(s3, source, "docs/a.txt") in ("PENDING", "COMPLETED")
    s3.put_object(Bucket=source, Key="other/b.txt", Body=b"not replicated")
    wait_for(lambda: _completed(s3, source, "docs/a.txt"), what="replication")

    replica = s3.get_object(Bucket=destination, Key="docs/a.txt")
    assert replica["Body"].read() == b"hello"
    assert replica["ReplicationStatus"] == "REPLICA"
    assert replica["VersionId"] == put["VersionId"] and replica["ETag"] == put["ETag"]
    assert replica["Metadata"] == {"team": "blue"} and replica["ContentType"] == "text/plain"
    assert replica["StorageClass"] == "STANDARD_IA"
    original = s3.head_object(Bucket=source, Key="docs/a.txt")
    assert replica["LastModified"] == original["LastModified"]  # the creation time is replicated
    assert "ReplicationStatus" not in s3.head_object(Bucket=source, Key="other/b.txt")
    assert "ReplicationStatus" not in s3.head_object(Bucket=source, Key="docs/before")
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=destination).get("Contents", [])]
    assert listed == ["docs/a.txt"]
    head = aws("s3api", "head-object", "--bucket", destination, "--key", "docs/a.txt")
    assert head["ReplicationStatus"] == "REPLICA"

    # A large body (a blob file, not an inline row) and a multipart upload replicate the same way.
    big = b"x" * (200 * 1024)
    s3.put_object(Bucket=source, Key="docs/big", Body=big)
    upload = s3.create_multipart_upload(Bucket=source, Key="docs/parts")
    part = s3.upload_part(Bucket=source, Key="docs/parts", UploadId=upload["UploadId"], PartNumber=1, Body=b"p1")
    s3.complete_multipart_upload(Bucket=source, Key="docs/parts", UploadId=upload["UploadId"],
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    wait_for(lambda: _completed(s3, source, "docs/big") and _completed(s3, source, "docs/parts"), what="replication")
    assert s3.get_object(Bucket=destination, Key="docs/big")["Body"].read() == big
    assert s3.get_object(Bucket=destination, Key="docs/parts")["Body"].read() == b"p1"


def test_tag_filters_and_delete_markers(s3, pair):
    source, destination = pair
    tagged = {"And": {"Prefix": "t/", "Tags": [{"Key": "copy", "Value": "yes"}]}}
    with pytest.raises(ClientError) as exc:  # delete markers carry no tags to match
        _configure(s3, source, _rule(destination, Priority=1, DeleteMarkerReplication={"Status": "Enabled"},
                                     Filter=tagged))
    assert _error(exc)[1].startswith("Delete marker replication is not supported if any Tag filter is specified.")
    _configure(s3, source, _rule(destination, Priority=2, DeleteMarkerReplication={"Status": "Disabled"},
                                 Filter=tagged),
               _rule(destination, ID="markers", Priority=1, DeleteMarkerReplication={"Status": "Enabled"},
                     Filter={"Prefix": "t/tagged"}))
    s3.put_object(Bucket=source, Key="t/tagged", Body=b"1", Tagging="copy=yes&x=y")
    s3.put_object(Bucket=source, Key="t/untagged", Body=b"2", Tagging="copy=no")
    wait_for(lambda: _completed(s3, source, "t/tagged"), what="replication")
    assert "ReplicationStatus" not in s3.head_object(Bucket=source, Key="t/untagged")
    assert s3.get_object_tagging(Bucket=destination, Key="t/tagged")["TagSet"] == [
        {"Key": "copy", "Value": "yes"}, {"Key": "x", "Value": "y"}]

    # A delete marker replicates (the rule says so); deleting a given version never does.
    marker = s3.delete_object(Bucket=source, Key="t/tagged")
    assert marker["DeleteMarker"] is True

    def marker_replicated() -> bool:
        versions = s3.list_object_versions(Bucket=destination, Prefix="t/tagged").get("DeleteMarkers", [])
        return [m["VersionId"] for m in versions] == [marker["VersionId"]]

    wait_for(marker_replicated, what="delete marker replication")
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=destination, Key="t/tagged")
    assert exc.value.response["Error"]["Code"] == "NoSuchKey"
    s3.delete_object(Bucket=source, Key="t/tagged", VersionId=marker["VersionId"])
    kept = s3.list_object_versions(Bucket=destination, Prefix="t/tagged")
    assert len(kept["DeleteMarkers"]) == 1 and len(kept["Versions"]) == 1


def test_delete_markers_stay_when_the_rule_disables_them_and_replicas_do_not_chain(s3, pair):
    source, destination = pair
    third = _versioned(s3, f"third-{uuid.uuid4().hex[:8]}")
    _configure(s3, source, _rule(destination, Priority=1, Filter={}, DeleteMarkerReplication={"Status": "Disabled"}))
    _configure(s3, destination, _rule(third, Priority=1, Filter={}, DeleteMarkerReplication={"Status": "Disabled"}))
    s3.put_object(Bucket=source, Key="k", Body=b"v")
    wait_for(lambda: _completed(s3, source, "k"), what="replication")
    s3.delete_object(Bucket=source, Key="k")
    s3.put_object(Bucket=source, Key="after", Body=b"w")  # replicated after the marker would have been
    wait_for(lambda: _completed(s3, source, "after"), what="replication")
    assert s3.get_object(Bucket=destination, Key="k")["Body"].read() == b"v"
    assert "DeleteMarkers" not in s3.list_object_versions(Bucket=destination, Prefix="k")
    # A replica is not replicated again: nothing reaches the third bucket from the source.
    assert "Contents" not in s3.list_objects_v2(Bucket=third)
    s3.put_object(Bucket=destination, Key="direct", Body=b"d")  # written there directly: it replicates
    wait_for(lambda: _completed(s3, destination, "direct"), what="replication")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=third)["Contents"]] == ["direct"]


def test_a_destination_gone_fails_the_replication(s3):
    tag = uuid.uuid4().hex[:8]
    source = _versioned(s3, f"src-{tag}")
    destination = _versioned(s3, f"gone-{tag}")
    _configure(s3, source, _rule(destination, Prefix=""))
    s3.delete_bucket(Bucket=destination)
    s3.put_object(Bucket=source, Key="k", Body=b"v")
    wait_for(lambda: _status(s3, source, "k") == "FAILED", what="a failed replication")


def test_a_role_s3_cannot_assume_fails_the_replication(s3, pair, endpoint):
    source, destination = pair
    _configure(s3, source, _rule(destination, Prefix=""), role="arn:aws:iam::000000000000:role/missing")
    s3.put_object(Bucket=source, Key="k", Body=b"v")
    wait_for(lambda: _status(s3, source, "k") == "FAILED", what="a failed replication")
    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                       aws_secret_access_key="test")
    iam.create_role(RoleName="lambda-only", AssumeRolePolicyDocument=S3_TRUST.replace("s3.amazonaws", "lambda.amazonaws"))
    _configure(s3, source, _rule(destination, Prefix=""), role="arn:aws:iam::000000000000:role/lambda-only")
    s3.put_object(Bucket=source, Key="k2", Body=b"v")
    wait_for(lambda: _status(s3, source, "k2") == "FAILED", what="a failed replication")
    assert "Contents" not in s3.list_objects_v2(Bucket=destination)


def test_with_iam_enforced_the_role_needs_the_replication_permissions(start_server: Any, tmp_path: Path) -> None:
    server = start_server(tmp_path / "enforced", "--iam", "enforce")
    s3, iam = server.client("s3"), server.client("iam")
    iam.create_role(RoleName="replication", AssumeRolePolicyDocument=S3_TRUST)
    source, destination = _versioned(s3, "enf-src"), _versioned(s3, "enf-dst")
    _configure(s3, source, _rule(destination, Prefix=""))
    s3.put_object(Bucket=source, Key="before", Body=b"b")  # the role may do nothing yet
    wait_for(lambda: _status(s3, source, "before") == "FAILED", what="a failed replication")
    iam.put_role_policy(RoleName="replication", PolicyName="replicate", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObjectVersionForReplication", "Resource": f"arn:aws:s3:::{source}/*"},
            {"Effect": "Allow", "Action": ["s3:ReplicateObject", "s3:ReplicateDelete"],
             "Resource": f"arn:aws:s3:::{destination}/*"}]}))
    s3.put_object(Bucket=source, Key="after", Body=b"a")
    wait_for(lambda: _completed(s3, source, "after"), what="replication")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=destination)["Contents"]] == ["after"]


def test_kms_objects_stay_and_locked_versions_need_a_locked_destination(s3, pair):
    source, destination = pair
    s3.put_bucket_encryption(Bucket=source, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    _configure(s3, source, _rule(destination, Prefix=""))
    s3.put_object(Bucket=source, Key="kms", Body=b"k", ServerSideEncryption="aws:kms")
    s3.put_object(Bucket=source, Key="plain", Body=b"p")
    wait_for(lambda: _completed(s3, source, "plain"), what="replication")
    assert "ReplicationStatus" not in s3.head_object(Bucket=source, Key="kms")  # not eligible
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=destination)["Contents"]] == ["plain"]

    tag = uuid.uuid4().hex[:8]
    locked = f"locked-{tag}"
    s3.create_bucket(Bucket=locked, ObjectLockEnabledForBucket=True)  # versioned by Object Lock
    _configure(s3, locked, _rule(destination, Prefix=""))
    s3.put_object(Bucket=locked, Key="held", Body=b"h", ObjectLockLegalHoldStatus="ON")
    wait_for(lambda: _status(s3, locked, "held") == "FAILED", what="a failed replication")
    s3.put_object_legal_hold(Bucket=locked, Key="held", LegalHold={"Status": "OFF"})


def test_pending_replication_survives_kill_9(start_server: Any, tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = start_server(data)
    s3 = server.client("s3")
    server.client("iam").create_role(RoleName="replication", AssumeRolePolicyDocument=S3_TRUST)
    source = _versioned(s3, "kill-src")
    destination = _versioned(s3, "kill-dst")
    _configure(s3, source, _rule(destination, Prefix=""))
    body = b"r" * (512 * 1024)
    keys = [f"k{i:03d}" for i in range(40)]
    versions = {key: s3.put_object(Bucket=source, Key=key, Body=body)["VersionId"] for key in keys}
    server.kill()
    with sqlite3.connect(data / "s3" / "s3.db") as db:  # what was still to do at the kill, for the record
        pending = db.execute("SELECT count(*) FROM outbox WHERE kind = 'replicate'").fetchone()[0]
    print(f"replication jobs pending at kill -9: {pending}")
    server.start()
    s3 = server.client("s3")
    wait_for(lambda: all(_completed(s3, source, key) for key in keys), what="replication after restart")
    for key in keys:
        replica = s3.head_object(Bucket=destination, Key=key)
        assert replica["VersionId"] == versions[key] and replica["ReplicationStatus"] == "REPLICA"
    assert s3.get_object(Bucket=destination, Key=keys[-1])["Body"].read() == body


def test_tag_changes_reach_the_replica(s3, pair):
    source, destination = pair
    _configure(s3, source, _rule(destination, Prefix=""))
    s3.put_object(Bucket=source, Key="k", Body=b"v", Tagging="stage=new")
    s3.put_object(Bucket=source, Key="local", Body=b"l")
    wait_for(lambda: _completed(s3, source, "k") and _completed(s3, source, "local"), what="replication")
    s3.put_object_tagging(Bucket=source, Key="k", Tagging={"TagSet": [{"Key": "stage", "Value": "done"}]})
    wait_for(lambda: s3.get_object_tagging(Bucket=destination, Key="k")["TagSet"] == [
        {"Key": "stage", "Value": "done"}], what="the tags on the replica")
    s3.delete_object_tagging(Bucket=source, Key="k")
    wait_for(lambda: s3.get_object_tagging(Bucket=destination, Key="k")["TagSet"] == [], what="tags removed")
    assert _status(s3, source, "k") == "COMPLETED"
    # The replica's own changes stay its own (replica modification sync is not on).
    s3.put_object_tagging(Bucket=destination, Key="local", Tagging={"TagSet": [{"Key": "here", "Value": "1"}]})
    assert s3.get_object_tagging(Bucket=source, Key="local")["TagSet"] == []
