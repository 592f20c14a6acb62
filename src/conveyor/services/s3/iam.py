"""What each S3 operation asks IAM for (`--iam report|enforce`): actions as S3 names them, which differ from
the operations' names, on the bucket's or the object's ARN, with S3's condition keys.

https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html (required
permissions per operation) and https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html
(actions, resources and condition keys):
- bucket operations act on `arn:aws:s3:::BUCKET`, object operations on `arn:aws:s3:::BUCKET/KEY`;
  ListBuckets on "*";
- ListObjects(V2) is s3:ListBucket, with s3:prefix, s3:delimiter and s3:max-keys; ListObjectVersions is
  s3:ListBucketVersions; HeadBucket is s3:ListBucket; HeadObject is s3:GetObject;
- an operation on a given version needs the ...Version action (GetObject -> s3:GetObjectVersion,
  DeleteObject -> s3:DeleteObjectVersion, tagging and ACLs likewise), with s3:VersionId;
- the multipart operations are s3:PutObject, except ListParts (s3:ListMultipartUploadParts) and
  AbortMultipartUpload (s3:AbortMultipartUpload);
- CopyObject and UploadPartCopy need s3:GetObject on the source and s3:PutObject on the destination;
- DeleteObjects needs s3:DeleteObject for each key, and reports a key it may not delete as an AccessDenied
  error in its answer, deleting the others;
- deleting a bucket's CORS, lifecycle, tagging, encryption or Public Access Block configuration is the
  Put... action (there is no Delete... action for them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from conveyor.authz import Need

ALL_BUCKETS = "*"
POLICY_OPERATIONS = ("GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy")

# Bucket operations whose action is not s3:<Operation>.
BUCKET_ACTIONS = {
    "HeadBucket": "s3:ListBucket",
    "ListObjects": "s3:ListBucket",
    "ListObjectsV2": "s3:ListBucket",
    "ListObjectVersions": "s3:ListBucketVersions",
    "ListMultipartUploads": "s3:ListBucketMultipartUploads",
    "GetBucketCors": "s3:GetBucketCORS",
    "PutBucketCors": "s3:PutBucketCORS",
    "DeleteBucketCors": "s3:PutBucketCORS",
    "GetBucketNotificationConfiguration": "s3:GetBucketNotification",
    "PutBucketNotificationConfiguration": "s3:PutBucketNotification",
    "GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
    "GetBucketLifecycle": "s3:GetLifecycleConfiguration",
    "PutBucketLifecycleConfiguration": "s3:PutLifecycleConfiguration",
    "PutBucketLifecycle": "s3:PutLifecycleConfiguration",
    "DeleteBucketLifecycle": "s3:PutLifecycleConfiguration",
    "DeleteBucketTagging": "s3:PutBucketTagging",
    "GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "PutBucketEncryption": "s3:PutEncryptionConfiguration",
    "DeleteBucketEncryption": "s3:PutEncryptionConfiguration",
    "GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "DeletePublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "DeleteBucketOwnershipControls": "s3:PutBucketOwnershipControls",
    "GetObjectLockConfiguration": "s3:GetBucketObjectLockConfiguration",
    "PutObjectLockConfiguration": "s3:PutBucketObjectLockConfiguration",
    "GetBucketReplication": "s3:GetReplicationConfiguration",
    "PutBucketReplication": "s3:PutReplicationConfiguration",
    "DeleteBucketReplication": "s3:PutReplicationConfiguration",
    "GetBucketAccelerateConfiguration": "s3:GetAccelerateConfiguration",
    "PutBucketAccelerateConfiguration": "s3:PutAccelerateConfiguration",
    "GetBucketAnalyticsConfiguration": "s3:GetAnalyticsConfiguration",
    "ListBucketAnalyticsConfigurations": "s3:GetAnalyticsConfiguration",
    "PutBucketAnalyticsConfiguration": "s3:PutAnalyticsConfiguration",
    "DeleteBucketAnalyticsConfiguration": "s3:PutAnalyticsConfiguration",
    "GetBucketInventoryConfiguration": "s3:GetInventoryConfiguration",
    "ListBucketInventoryConfigurations": "s3:GetInventoryConfiguration",
    "PutBucketInventoryConfiguration": "s3:PutInventoryConfiguration",
    "DeleteBucketInventoryConfiguration": "s3:PutInventoryConfiguration",
    "GetBucketMetricsConfiguration": "s3:GetMetricsConfiguration",
    "ListBucketMetricsConfigurations": "s3:GetMetricsConfiguration",
    "PutBucketMetricsConfiguration": "s3:PutMetricsConfiguration",
    "DeleteBucketMetricsConfiguration": "s3:PutMetricsConfiguration",
    "GetBucketIntelligentTieringConfiguration": "s3:GetIntelligentTieringConfiguration",
    "ListBucketIntelligentTieringConfigurations": "s3:GetIntelligentTieringConfiguration",
    "PutBucketIntelligentTieringConfiguration": "s3:PutIntelligentTieringConfiguration",
    "DeleteBucketIntelligentTieringConfiguration": "s3:PutIntelligentTieringConfiguration",
}

# Object operations: (action, the action for a given version), when not s3:<Operation>.
OBJECT_ACTIONS = {
    "GetObject": ("s3:GetObject", "s3:GetObjectVersion"),
    "HeadObject": ("s3:GetObject", "s3:GetObjectVersion"),
    "SelectObjectContent": ("s3:GetObject", "s3:GetObjectVersion"),
    "GetObjectTorrent": ("s3:GetObjectTorrent", "s3:GetObjectVersionTorrent"),
    "GetObjectAttributes": ("s3:GetObjectAttributes", "s3:GetObjectVersionAttributes"),
    "DeleteObject": ("s3:DeleteObject", "s3:DeleteObjectVersion"),
    "GetObjectTagging": ("s3:GetObjectTagging", "s3:GetObjectVersionTagging"),
    "PutObjectTagging": ("s3:PutObjectTagging", "s3:PutObjectVersionTagging"),
    "DeleteObjectTagging": ("s3:DeleteObjectTagging", "s3:DeleteObjectVersionTagging"),
    "GetObjectAcl": ("s3:GetObjectAcl", "s3:GetObjectVersionAcl"),
    "PutObjectAcl": ("s3:PutObjectAcl", "s3:PutObjectVersionAcl"),
    "PutObject": ("s3:PutObject", "s3:PutObject"),
    "CreateMultipartUpload": ("s3:PutObject", "s3:PutObject"),
    "UploadPart": ("s3:PutObject", "s3:PutObject"),
    "CompleteMultipartUpload": ("s3:PutObject", "s3:PutObject"),
    "AbortMultipartUpload": ("s3:AbortMultipartUpload", "s3:AbortMultipartUpload"),
    "ListParts": ("s3:ListMultipartUploadParts", "s3:ListMultipartUploadParts"),
}
_LISTINGS = ("ListObjects", "ListObjectsV2", "ListObjectVersions")
COPIES = ("CopyObject", "UploadPartCopy")


def bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def object_arn(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def bucket_of(arn: str) -> str:
    """The bucket an S3 ARN names (`arn:aws:s3:::BUCKET` or `arn:aws:s3:::BUCKET/KEY`)."""
    return arn.split(":", 5)[-1].partition("/")[0]


def deleted_item(key: str, version_id: str | None) -> str:
    """How DeleteObjects' per-key needs name their key (and version) in ctx.denied_items."""
    return f"{key}?versionId={version_id}" if version_id else key


def needs(operation: str, params: Mapping[str, Any], action_of: str) -> list[Need]:
    """`action_of`: the default action (s3:<Operation>) for operations no table lists."""
    bucket = params.get("Bucket")
    key = params.get("Key")
    if operation == "ListBuckets" or not isinstance(bucket, str):
        return [Need("s3:ListAllMyBuckets" if operation == "ListBuckets" else action_of, ALL_BUCKETS)]
    if operation == "DeleteObjects":
        return _delete_objects(bucket, params)
    if operation in COPIES and isinstance(key, str):
        return _copy(bucket, key, params)
    if isinstance(key, str) and (operation in OBJECT_ACTIONS or operation not in BUCKET_ACTIONS):
        plain, versioned = OBJECT_ACTIONS.get(operation, (action_of, action_of))
        version = params.get("VersionId")
        context: dict[str, str] = {}
        if isinstance(version, str) and version:
            context["s3:VersionId"] = version
        acl = params.get("ACL")
        if isinstance(acl, str) and operation in ("PutObject", "CreateMultipartUpload", "PutObjectAcl"):
            context["s3:x-amz-acl"] = acl
        sse = params.get("ServerSideEncryption")
        if isinstance(sse, str) and operation in ("PutObject", "CreateMultipartUpload"):
            context["s3:x-amz-server-side-encryption"] = sse
        return [Need(versioned if version else plain, object_arn(bucket, key), context or None)]
    action = BUCKET_ACTIONS.get(operation, action_of)
    if operation in _LISTINGS:
        return [Need(action, bucket_arn(bucket), _listing_keys(params))]
    return [Need(action, bucket_arn(bucket))]


def _listing_keys(params: Mapping[str, Any]) -> dict[str, str]:
    """s3:prefix, s3:delimiter and s3:max-keys, when the listing gives them."""
    keys: dict[str, str] = {}
    for name, key in (("Prefix", "s3:prefix"), ("Delimiter", "s3:delimiter"), ("MaxKeys", "s3:max-keys")):
        value = params.get(name)
        if value is not None:
            keys[key] = str(value)
    return keys


def _copy(bucket: str, key: str, params: Mapping[str, Any]) -> list[Need]:
    """Read the source (its version, when one is named), write the destination."""
    raw = params.get("CopySource")
    out: list[Need] = []
    if isinstance(raw, str):
        path, _, query = raw.partition("?")
        version = unquote(query[len("versionId="):]) if query.startswith("versionId=") else None
        source = unquote(path).lstrip("/")
        if "/" in source:
            out.append(Need("s3:GetObjectVersion" if version else "s3:GetObject", f"arn:aws:s3:::{source}",
                            {"s3:VersionId": version} if version else None))
    out.append(Need("s3:PutObject", object_arn(bucket, key),
                    {"s3:x-amz-copy-source": raw} if isinstance(raw, str) else None))
    return out


def _delete_objects(bucket: str, params: Mapping[str, Any]) -> list[Need]:
    delete = params.get("Delete")
    objects = delete.get("Objects") if isinstance(delete, Mapping) else None
    out: list[Need] = []
    for item in objects or []:
        key, version = item.get("Key"), item.get("VersionId")
        if not isinstance(key, str):
            continue
        out.append(Need("s3:DeleteObjectVersion" if version else "s3:DeleteObject", object_arn(bucket, key),
                        {"s3:VersionId": version} if version else None, item=deleted_item(key, version)))
    return out
