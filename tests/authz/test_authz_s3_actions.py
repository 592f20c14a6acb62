"""S3's operations and the IAM actions they need, table-driven, from AWS's "Required permissions for Amazon
S3 API operations" (https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html)
and the Service Authorization Reference
(https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html)."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor.services.s3.iam import needs

B, OBJ = "arn:aws:s3:::photos", "arn:aws:s3:::photos/uploads/a.jpg"
KEY = {"Bucket": "photos", "Key": "uploads/a.jpg"}

CASES: list[tuple[str, dict[str, Any], list[tuple[str, str]]]] = [
    ("ListBuckets", {}, [("s3:ListAllMyBuckets", "*")]),
    ("CreateBucket", {"Bucket": "photos"}, [("s3:CreateBucket", B)]),
    ("HeadBucket", {"Bucket": "photos"}, [("s3:ListBucket", B)]),
    ("ListObjectsV2", {"Bucket": "photos"}, [("s3:ListBucket", B)]),
    ("ListObjects", {"Bucket": "photos"}, [("s3:ListBucket", B)]),
    ("ListObjectVersions", {"Bucket": "photos"}, [("s3:ListBucketVersions", B)]),
    ("ListMultipartUploads", {"Bucket": "photos"}, [("s3:ListBucketMultipartUploads", B)]),
    ("PutBucketPolicy", {"Bucket": "photos"}, [("s3:PutBucketPolicy", B)]),
    ("DeleteBucketCors", {"Bucket": "photos"}, [("s3:PutBucketCORS", B)]),
    ("GetBucketNotificationConfiguration", {"Bucket": "photos"}, [("s3:GetBucketNotification", B)]),
    ("PutBucketNotificationConfiguration", {"Bucket": "photos"}, [("s3:PutBucketNotification", B)]),
    ("DeletePublicAccessBlock", {"Bucket": "photos"}, [("s3:PutBucketPublicAccessBlock", B)]),
    ("GetBucketLifecycleConfiguration", {"Bucket": "photos"}, [("s3:GetLifecycleConfiguration", B)]),
    ("GetObject", KEY, [("s3:GetObject", OBJ)]),
    ("GetObject", {**KEY, "VersionId": "v1"}, [("s3:GetObjectVersion", OBJ)]),
    ("HeadObject", KEY, [("s3:GetObject", OBJ)]),
    ("PutObject", KEY, [("s3:PutObject", OBJ)]),
    ("DeleteObject", KEY, [("s3:DeleteObject", OBJ)]),
    ("DeleteObject", {**KEY, "VersionId": "v1"}, [("s3:DeleteObjectVersion", OBJ)]),
    ("CreateMultipartUpload", KEY, [("s3:PutObject", OBJ)]),
    ("UploadPart", KEY, [("s3:PutObject", OBJ)]),
    ("CompleteMultipartUpload", KEY, [("s3:PutObject", OBJ)]),
    ("AbortMultipartUpload", KEY, [("s3:AbortMultipartUpload", OBJ)]),
    ("ListParts", KEY, [("s3:ListMultipartUploadParts", OBJ)]),
    ("GetObjectTagging", {**KEY, "VersionId": "v1"}, [("s3:GetObjectVersionTagging", OBJ)]),
    ("PutObjectAcl", KEY, [("s3:PutObjectAcl", OBJ)]),
    ("GetObjectAttributes", KEY, [("s3:GetObjectAttributes", OBJ)]),
    ("CopyObject", {"Bucket": "photos", "Key": "processed/a.jpg", "CopySource": "photos/uploads/a.jpg"},
     [("s3:GetObject", OBJ), ("s3:PutObject", "arn:aws:s3:::photos/processed/a.jpg")]),
    ("CopyObject", {"Bucket": "other", "Key": "b", "CopySource": "/photos/uploads/a.jpg?versionId=v2"},
     [("s3:GetObjectVersion", OBJ), ("s3:PutObject", "arn:aws:s3:::other/b")]),
    ("UploadPartCopy", {"Bucket": "photos", "Key": "big", "CopySource": "photos/uploads/a.jpg"},
     [("s3:GetObject", OBJ), ("s3:PutObject", "arn:aws:s3:::photos/big")]),
    ("DeleteObjects", {"Bucket": "photos", "Delete": {"Objects": [{"Key": "uploads/a.jpg"},
                                                                 {"Key": "x", "VersionId": "v1"}]}},
     [("s3:DeleteObject", OBJ), ("s3:DeleteObjectVersion", "arn:aws:s3:::photos/x")]),
]


@pytest.mark.parametrize(("operation", "params", "expected"), CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_s3_operation_needs(operation: str, params: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert [(n.action, n.resource) for n in needs(operation, params, f"s3:{operation}")] == expected


def test_listing_and_version_condition_keys() -> None:
    [listing] = needs("ListObjectsV2", {"Bucket": "photos", "Prefix": "uploads/", "Delimiter": "/", "MaxKeys": 10},
                      "s3:ListObjectsV2")
    assert listing.context == {"s3:prefix": "uploads/", "s3:delimiter": "/", "s3:max-keys": "10"}
    [version] = needs("GetObject", {**KEY, "VersionId": "v1"}, "s3:GetObject")
    assert version.context == {"s3:VersionId": "v1"}
    [put] = needs("PutObject", {**KEY, "ACL": "public-read"}, "s3:PutObject")
    assert put.context == {"s3:x-amz-acl": "public-read"}
    # DeleteObjects names each key as an item: a refused key is answered in the response, not the request.
    assert [n.item for n in needs("DeleteObjects", {"Bucket": "photos", "Delete": {"Objects": [
        {"Key": "a"}, {"Key": "b", "VersionId": "v"}]}}, "s3:DeleteObjects")] == ["a", "b?versionId=v"]
