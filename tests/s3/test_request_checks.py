"""Requests S3 checks as AWS does, through boto3: tag sets, ranges on HEAD, listing arguments and pages,
ListBuckets paging, ListParts' arguments, conditional deletes and multipart completions, a retried
CompleteMultipartUpload, and a delete marker's 405."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

MIB = 1024 * 1024


@pytest.fixture
def unchecked(endpoint):  # type: ignore[no-untyped-def]
    """A client that sends what it is given, for values the SDK itself would refuse."""
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test",
                        config=Config(s3={"addressing_style": "path"}, parameter_validation=False))


def _error(exc: pytest.ExceptionInfo[ClientError]) -> dict[str, str]:
    return dict(exc.value.response["Error"])


def test_tag_sets(s3, bucket):
    """https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-tagging.html"""
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="aws:foo=bar")
    assert (_error(exc)["Code"], _error(exc)["Message"]) == ("InvalidTag", "Your TagKey cannot be prefixed with aws:")
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="foo=bar")
    with pytest.raises(ClientError) as exc:
        s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": [{"Key": "a", "Value": "1"},
                                                                          {"Key": "a", "Value": "2"}]})
    assert _error(exc)["Message"] == "Cannot provide multiple Tags with the same key"
    put = s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "team", "Value": "x"}]})
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "aws:cloudformation:x", "Value": "y"}]})
    assert _error(exc)["Message"] == "System tags cannot be added/updated by requester"
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": []})  # an empty set removes them
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_tagging(Bucket=bucket)
    assert _error(exc)["Code"] == "NoSuchTagSet"
    assert s3.delete_bucket_tagging(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_ranges_on_head_and_get(s3, bucket):
    s3.put_object(Bucket=bucket, Key="f", Body=b"f1")
    headers = s3.head_object(Bucket=bucket, Key="f", Range="bytes=1-")["ResponseMetadata"]["HTTPHeaders"]
    assert (headers["content-range"], headers["content-length"]) == ("bytes 1-1/2", "1")
    assert "content-range" not in s3.head_object(Bucket=bucket, Key="f", Range="bytes=1-0")["ResponseMetadata"][
        "HTTPHeaders"]
    for beyond in ("bytes=5-9", "bytes=100-"):
        with pytest.raises(ClientError) as exc:
            s3.head_object(Bucket=bucket, Key="f", Range=beyond)
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 416
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="f", Range="bytes=100-")
    error = _error(exc)
    assert (error["Code"], error["ActualObjectSize"], error["RangeRequested"]) == ("InvalidRange", "2", "bytes=100-")


def test_listing_arguments_and_bucket_pages(s3, unchecked):
    names = sorted(f"page-{i}-bucket" for i in range(3))
    for name in names:
        s3.create_bucket(Bucket=name)
        s3.put_object(Bucket=name, Key="one", Body=b"1")
        s3.put_object(Bucket=name, Key="two", Body=b"2")
    first = s3.list_buckets(MaxBuckets=2)
    assert [b["Name"] for b in first["Buckets"]] == names[:2] and first["ContinuationToken"]
    rest = s3.list_buckets(MaxBuckets=2, ContinuationToken=first["ContinuationToken"])
    assert [b["Name"] for b in rest["Buckets"]] == names[2:] and "ContinuationToken" not in rest
    with pytest.raises(ClientError) as exc:
        unchecked.list_buckets(MaxBuckets=0)
    assert _error(exc)["Code"] == "InvalidArgument"
    with pytest.raises(ClientError) as exc:
        s3.list_objects_v2(Bucket=names[0], ContinuationToken="")
    assert _error(exc)["Message"] == "The continuation token provided is incorrect"
    page = s3.list_objects_v2(Bucket=names[0], MaxKeys=1, StartAfter="a")
    assert page["StartAfter"] == "a"
    after = s3.list_objects_v2(Bucket=names[0], MaxKeys=1, StartAfter="a",
                               ContinuationToken=page["NextContinuationToken"])
    assert [o["Key"] for o in after["Contents"]] == ["two"] and "StartAfter" not in after


def _two_parts(s3, bucket: str, key: str) -> tuple[str, dict[str, object]]:  # type: ignore[no-untyped-def]
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256")["UploadId"]
    one = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=1, Body=b"0" * 5 * MIB)["ETag"]
    two = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=2, Body=b"1")["ETag"]
    return upload, {"Parts": [{"ETag": one, "PartNumber": 1}, {"ETag": two, "PartNumber": 2}]}


def test_multipart_conditions_retries_and_list_arguments(s3, unchecked, bucket):
    s3.put_object(Bucket=bucket, Key="taken", Body=b"x")
    upload, parts = _two_parts(s3, bucket, "taken")
    listed = s3.list_multipart_uploads(Bucket=bucket)["Uploads"][0]
    assert (listed["ChecksumAlgorithm"], listed["ChecksumType"]) == ("SHA256", "COMPOSITE")
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(Bucket=bucket, Key="taken", UploadId=upload, MultipartUpload=parts,
                                     IfNoneMatch="*")
    assert (_error(exc)["Code"], _error(exc)["Condition"]) == ("PreconditionFailed", "If-None-Match")
    for argument, value, message in (("MaxParts", -1, "Argument max-parts must be an integer between 0 and "
                                                      "2147483647"),
                                     ("PartNumberMarker", 2**31 + 5, "Provided part-number-marker not an integer "
                                                                     "or within integer range")):
        with pytest.raises(ClientError) as exc:
            unchecked.list_parts(Bucket=bucket, Key="taken", UploadId=upload, **{argument: value})
        assert (_error(exc)["Code"], _error(exc)["Message"]) == ("InvalidArgument", message)
    first = s3.complete_multipart_upload(Bucket=bucket, Key="taken", UploadId=upload, MultipartUpload=parts)
    # A retry answers as the first completion did, even with a condition that no longer holds.
    again = s3.complete_multipart_upload(Bucket=bucket, Key="taken", UploadId=upload, MultipartUpload=parts,
                                         IfNoneMatch="*")
    assert again["ETag"] == first["ETag"] and first["ETag"].endswith('-2"')
    s3.put_object(Bucket=bucket, Key="taken", Body=b"replaced")  # the version it made is gone: no more retries
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(Bucket=bucket, Key="taken", UploadId=upload, MultipartUpload=parts)
    assert _error(exc)["Code"] == "NoSuchUpload"


def test_conditional_delete_and_delete_marker_versions(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"x")["ETag"]
    with pytest.raises(ClientError) as exc:
        s3.delete_object(Bucket=bucket, Key="k", IfMatch='"0000"')
    assert (_error(exc)["Code"], _error(exc)["Condition"]) == ("PreconditionFailed", "If-Match")
    s3.delete_object(Bucket=bucket, Key="k", IfMatch=etag.strip('"'))  # quotes are optional
    with pytest.raises(ClientError) as exc:
        s3.delete_object(Bucket=bucket, Key="k", IfMatch=etag)
    assert _error(exc)["Code"] == "NoSuchKey"
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="v", Body=b"x")
    marker = s3.delete_object(Bucket=bucket, Key="v")["VersionId"]
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="v", VersionId=marker)
    headers = exc.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 405 and headers["allow"] == "DELETE"
    with pytest.raises(ClientError) as exc:
        s3.put_object_tagging(Bucket=bucket, Key="v", VersionId=marker, Tagging={"TagSet": []})
    assert (_error(exc)["Code"], _error(exc)["Method"]) == ("MethodNotAllowed", "PUT")


def test_a_regional_endpoint_refuses_other_constraints_first(endpoint):
    """A constraint that is not the endpoint's region, known or not, is refused as such (not as unknown)."""
    west = boto3.client("s3", endpoint_url=endpoint, region_name="us-west-2", aws_access_key_id="test",
                        aws_secret_access_key="test", config=Config(s3={"addressing_style": "path"}))
    with pytest.raises(ClientError) as exc:
        west.create_bucket(Bucket="constraint-check", CreateBucketConfiguration={"LocationConstraint": "xx-nowhere-9"})
    assert _error(exc)["Code"] == "IllegalLocationConstraintException"


def test_small_answers_as_aws_gives_them(s3, bucket, endpoint):
    head = s3.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPHeaders"]
    assert head["content-type"] == "application/xml"
    with pytest.raises(ClientError) as exc:
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={})
    assert (_error(exc)["Code"], _error(exc)["Message"]) == ("InvalidRequest", "Must specify at least one "
                                                                               "configuration.")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    version = s3.put_object(Bucket=bucket, Key="k", Body=b"x")["VersionId"]
    # Copying a named version onto its own key makes a new version; without the version it changes nothing.
    s3.copy_object(Bucket=bucket, Key="k", CopySource={"Bucket": bucket, "Key": "k", "VersionId": version})
    assert len(s3.list_object_versions(Bucket=bucket)["Versions"]) == 2
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="k", CopySource={"Bucket": bucket, "Key": "k"})
    assert _error(exc)["Code"] == "InvalidRequest"


def test_notification_destinations_must_be_well_formed_arns_of_the_bucket_region(s3, bucket):
    for arn, message in (("arn:aws:{}:us-east-1:123456789012:q", "The ARN is not well formed"),
                         ("arn:aws:sqs:us-west-2:123456789012:q", "The notification destination service region "
                                                                  "is not valid for the bucket location constraint")):
        with pytest.raises(ClientError) as exc:
            s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
                "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
        assert (_error(exc)["Code"], _error(exc)["Message"]) == ("InvalidArgument", message)


def test_presigned_urls_carry_their_metadata(s3, bucket):
    import urllib.request

    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "p", "Metadata": {"venue": "1"}})
    assert "x-amz-meta-venue=1" in url  # the SDK moves the metadata into the query string
    request = urllib.request.Request(url, data=b"body", method="PUT")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
    assert s3.get_object(Bucket=bucket, Key="p")["Metadata"] == {"venue": "1"}


def test_account_regional_namespace_and_replication_order(s3, bucket, client):
    """https://docs.aws.amazon.com/AmazonS3/latest/userguide/gpbucketnamespaces.html"""
    account = client("sts").get_caller_identity()["Account"]
    name = f"team-data-{account}-us-east-1-an"
    created = s3.create_bucket(Bucket=name, BucketNamespace="account-regional")
    assert created["BucketArn"] == f"arn:aws:s3:::{name}"
    s3.head_bucket(Bucket=name)
    with pytest.raises(ClientError) as exc:
        s3.create_bucket(Bucket="team-data-wrong-suffix", BucketNamespace="account-regional")
    assert _error(exc)["Code"] == "InvalidNamespaceHeader"
    # Replication is judged on the source's versioning before anything else.
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_replication(Bucket=bucket, ReplicationConfiguration={
            "Role": "arn:aws:iam::000000000000:role/r",
            "Rules": [{"Destination": {"Bucket": "arn:aws:s3:::elsewhere"}, "Status": "Enabled"}]})
    assert (_error(exc)["Code"], _error(exc)["Message"]) == (
        "InvalidRequest", "Versioning must be 'Enabled' on the bucket to apply a replication configuration")
