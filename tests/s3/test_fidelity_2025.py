"""S3 as it answers today: owners without DisplayName, the bucket's region on HeadBucket, CreateBucket's
location-constraint rules, RFC 2047 user metadata, copy sources with `+`, and version listings paged by version."""

from __future__ import annotations

import base64

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError


def regional(endpoint: str, region: str):  # type: ignore[no-untyped-def]
    return boto3.client("s3", endpoint_url=endpoint, region_name=region, aws_access_key_id="test",
                        aws_secret_access_key="test", config=Config(s3={"addressing_style": "path"},
                                                                    retries={"max_attempts": 1}))


def test_owners_have_no_display_name(s3, bucket):
    # https://docs.aws.amazon.com/AmazonS3/latest/API/API_Owner.html: DisplayName is no longer returned.
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert set(s3.list_buckets()["Owner"]) == {"ID"}
    assert set(s3.list_objects_v2(Bucket=bucket, FetchOwner=True)["Contents"][0]["Owner"]) == {"ID"}
    assert set(s3.list_object_versions(Bucket=bucket)["Versions"][0]["Owner"]) == {"ID"}
    assert set(s3.get_bucket_acl(Bucket=bucket)["Owner"]) == {"ID"}


def test_head_bucket_names_the_region_and_list_buckets_filters_by_it(s3, endpoint):
    # https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadBucket.html (x-amz-bucket-region) and
    # https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListBuckets.html (bucket-region)
    regional(endpoint, "eu-central-1").create_bucket(
        Bucket="in-frankfurt", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    s3.create_bucket(Bucket="in-virginia")
    head = s3.head_bucket(Bucket="in-frankfurt")
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "eu-central-1"
    assert head["BucketRegion"] == "eu-central-1"
    names = [b["Name"] for b in s3.list_buckets(BucketRegion="eu-central-1")["Buckets"]]
    assert names == ["in-frankfurt"]


@pytest.mark.parametrize("region,constraint,code", [
    ("us-east-1", "us-east-1", "InvalidLocationConstraint"),  # us-east-1 is the absence of a constraint
    ("us-east-1", "mars-north-1", "InvalidLocationConstraint"),
    ("eu-west-1", "eu-central-1", "IllegalLocationConstraintException"),
    ("eu-west-1", None, "IllegalLocationConstraintException"),
])
def test_location_constraint_rules(endpoint, region, constraint, code):
    # https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html
    conf = {"CreateBucketConfiguration": {"LocationConstraint": constraint}} if constraint else {}
    with pytest.raises(ClientError) as exc:
        regional(endpoint, region).create_bucket(Bucket="constrained", **conf)
    assert exc.value.response["Error"]["Code"] == code


def test_eu_is_eu_west_1(endpoint, s3):
    regional(endpoint, "eu-west-1").create_bucket(Bucket="old-eu", CreateBucketConfiguration={
        "LocationConstraint": "EU"})
    assert s3.head_bucket(Bucket="old-eu")["BucketRegion"] == "eu-west-1"


def test_user_metadata_outside_ascii_is_rfc2047(s3, bucket):
    # https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingMetadata.html#UserMetadata: decoded as RFC 2047
    # before storing, encoded (B encoding) before returning when not US-ASCII.
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Metadata={"q": "=?UTF-8?Q?caf=C3=A9?=", "plain": "ascii"})
    got = s3.head_object(Bucket=bucket, Key="k")["Metadata"]
    assert got == {"q": "=?UTF-8?B?" + base64.b64encode("café".encode()).decode() + "?=", "plain": "ascii"}


@pytest.mark.parametrize("key", ["a+b", "a b+c", "100%+sure", "ü/ö+ä?x=1&y"])
def test_copy_source_with_special_characters(s3, bucket, key):
    s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": key})
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == key.encode()
    assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == len(key.encode())  # "+" is no space


def test_version_listing_pages_by_version(s3, bucket):
    # Each version and delete marker counts towards MaxKeys; a page ending inside a key's versions gives
    # NextKeyMarker and NextVersionIdMarker. https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    made = [s3.put_object(Bucket=bucket, Key="a", Body=str(i).encode())["VersionId"] for i in range(3)]
    marker = s3.delete_object(Bucket=bucket, Key="b")["VersionId"]
    first = s3.list_object_versions(Bucket=bucket, MaxKeys=2)
    assert [v["VersionId"] for v in first["Versions"]] == made[::-1][:2]
    assert first["IsTruncated"] and first["NextKeyMarker"] == "a" and first["NextVersionIdMarker"] == made[1]
    second = s3.list_object_versions(Bucket=bucket, MaxKeys=2, KeyMarker="a",
                                     VersionIdMarker=first["NextVersionIdMarker"])
    assert [v["VersionId"] for v in second["Versions"]] == [made[0]]
    assert [m["VersionId"] for m in second["DeleteMarkers"]] == [marker] and not second["IsTruncated"]
    assert second["VersionIdMarker"] == made[1]
    paged = [v["VersionId"] for page in s3.get_paginator("list_object_versions").paginate(
        Bucket=bucket, PaginationConfig={"PageSize": 1}) for v in page.get("Versions", [])]
    assert paged == made[::-1]
    with pytest.raises(ClientError) as exc:
        s3.list_object_versions(Bucket=bucket, VersionIdMarker=made[0])
    assert exc.value.response["Error"]["Code"] == "InvalidArgument"


def test_copy_takes_storage_class_and_redirect_from_its_request(s3, bucket):
    # https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html: the copy's storage class is the
    # request's (STANDARD when not named), and an in-place copy that changes it or the redirect is allowed.
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", StorageClass="STANDARD_IA")
    s3.copy_object(Bucket=bucket, Key="plain", CopySource={"Bucket": bucket, "Key": "k"})
    assert "StorageClass" not in s3.head_object(Bucket=bucket, Key="plain")  # STANDARD is not shown
    s3.copy_object(Bucket=bucket, Key="k", CopySource={"Bucket": bucket, "Key": "k"},
                   StorageClass="ONEZONE_IA")
    assert s3.head_object(Bucket=bucket, Key="k")["StorageClass"] == "ONEZONE_IA"
    s3.copy_object(Bucket=bucket, Key="k", CopySource={"Bucket": bucket, "Key": "k"},
                   WebsiteRedirectLocation="/moved")
    assert s3.head_object(Bucket=bucket, Key="k")["WebsiteRedirectLocation"] == "/moved"
