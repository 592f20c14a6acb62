"""Who may do what anonymously: bucket policies, canned ACLs and Public Access Block.

Signed requests from the configured credentials are the account owner and may do anything. Anonymous
requests succeed only where a bucket policy or a public canned ACL allows them and the bucket's Public
Access Block does not forbid it (https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html);
ACLs count only on buckets whose Object Ownership leaves them enabled. Nobody creates a bucket, or lists
all buckets, anonymously (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conveyor import jsondoc, resource_policy
from conveyor.services.s3 import acl
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from conveyor.services.s3.core import Core

# Operation -> IAM action (only the ones anonymous callers plausibly use; others map to s3:<Operation>).
ACTIONS = {
    "GetObject": "s3:GetObject", "HeadObject": "s3:GetObject", "PutObject": "s3:PutObject",
    "ListObjects": "s3:ListBucket", "ListObjectsV2": "s3:ListBucket", "HeadBucket": "s3:ListBucket",
    "DeleteObject": "s3:DeleteObject", "GetObjectTagging": "s3:GetObjectTagging",
    "CreateMultipartUpload": "s3:PutObject", "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject", "ListObjectVersions": "s3:ListBucketVersions",
}
READ_OPS = {"GetObject", "HeadObject"}
LIST_OPS = {"ListObjects", "ListObjectsV2", "HeadBucket"}
WRITE_OPS = {"PutObject", "DeleteObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"}
_NEVER_ANONYMOUS = {"CreateBucket", "ListBuckets"}
_NOBODY: dict[str, str] = {"ID": ""}  # an owner for reading grants whose owner does not matter


def access_denied() -> ServiceError:
    return ServiceError("AccessDenied", "Access Denied", 403)


def _malformed(message: str) -> ServiceError:
    return ServiceError("MalformedPolicy", message, 400)


def parse_policy(text: str, bucket: str) -> dict[str, Any]:
    """A bucket policy checked for the mistakes S3 refuses; hostile shapes are refused, never crash."""
    try:
        doc = jsondoc.loads(text)
    except ValueError:
        if not text.lstrip().startswith("{"):
            raise _malformed("Policies must be valid JSON and the first byte must be '{'")
        raise _malformed("This policy contains invalid Json")
    if not isinstance(doc, dict) or not doc.get("Statement"):
        raise _malformed("Missing required field Statement")
    statements = doc["Statement"] if isinstance(doc["Statement"], list) else [doc["Statement"]]
    for st in statements:
        if not isinstance(st, dict) or st.get("Effect") not in ("Allow", "Deny"):
            raise _malformed("Invalid effect")
        if "Principal" not in st and "NotPrincipal" not in st:
            raise _malformed("Missing required field Principal")
        if not _strings(st.get("Action", st.get("NotAction"))):
            raise _malformed("Policy has invalid action")
        resources = _strings(st.get("Resource", st.get("NotResource")))
        if not resources or not all(r.startswith(f"arn:aws:s3:::{bucket}") for r in resources):
            raise _malformed("Policy has invalid resource")
    return doc


def _strings(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return value
    return None


def _public_principal(principal: Any) -> bool:
    if principal == "*":
        return True
    return isinstance(principal, dict) and "*" in (_strings(principal.get("AWS")) or [])


def is_public_policy(doc: dict[str, Any]) -> bool:
    statements = doc.get("Statement")
    items = statements if isinstance(statements, list) else [statements]
    return any(isinstance(st, dict) and st.get("Effect") == "Allow" and _public_principal(st.get("Principal"))
               and not st.get("Condition") for st in items)


def check_anonymous(core: Core, ctx: RequestContext, operation: str, bucket: str | None, key: str | None) -> None:
    check_anonymous_access(core, operation, bucket, key)


def check_anonymous_access(core: Core, operation: str, bucket: str | None, key: str | None) -> None:
    """Whether an anonymous caller may make `operation` on the bucket (or its object `key`): AccessDenied
    unless a bucket policy or a public ACL allows it and Public Access Block does not forbid it."""
    if bucket is None or operation in _NEVER_ANONYMOUS:
        raise access_denied()
    row = core.store.bucket(bucket)
    if row is None:
        return  # NoSuchBucket is what AWS reports for a missing bucket, even anonymously
    pab = row.config.get("pab") or {}
    resource = f"arn:aws:s3:::{bucket}" + (f"/{key}" if key is not None else "")
    if row.config.get("policy") and not pab.get("RestrictPublicBuckets"):
        request = resource_policy.Request(action=ACTIONS.get(operation, f"s3:{operation}"), resource=resource)
        decision = resource_policy.decide(resource_policy.parse(row.config["policy"]), request)
        if decision == "Deny":
            raise access_denied()
        if decision == "Allow":
            return
    if not pab.get("IgnorePublicAcls") and row.config.get("ownership") != "BucketOwnerEnforced":
        # ACL grants to everyone (AllUsers): READ on the bucket lists it, WRITE writes into it, READ on an
        # object reads it, READ_ACP reads the ACL. https://docs.aws.amazon.com/AmazonS3/latest/userguide/acl-overview.html#permissions
        bucket_grants = acl.grants_of(row.acl, _NOBODY)
        if operation in LIST_OPS and acl.allows(bucket_grants, acl.ALL_USERS, "READ"):
            return
        if operation in WRITE_OPS and key is not None and acl.allows(bucket_grants, acl.ALL_USERS, "WRITE"):
            return
        if operation == "GetBucketAcl" and acl.allows(bucket_grants, acl.ALL_USERS, "READ_ACP"):
            return
        if key is not None and (operation in READ_OPS or operation == "GetObjectAcl"):
            obj = core.store.object(bucket, key)
            wanted = "READ_ACP" if operation == "GetObjectAcl" else "READ"
            if obj is not None and acl.allows(acl.grants_of(obj.meta.get("ACL"), _NOBODY), acl.ALL_USERS, wanted):
                return
    raise access_denied()


