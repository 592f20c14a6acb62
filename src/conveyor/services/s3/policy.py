"""Who may do what anonymously: bucket policies, canned ACLs and Public Access Block.

Signed requests from the configured credentials are the account owner and may do anything. Anonymous
requests succeed only where a bucket policy or a public canned ACL allows them and the bucket's Public
Access Block does not forbid it (https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html).
"""

from __future__ import annotations

import fnmatch
import json
from typing import TYPE_CHECKING, Any

from conveyor.services.base import RequestContext, ServiceError

if TYPE_CHECKING:
    from conveyor.services.s3.api import S3Service

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


def access_denied() -> ServiceError:
    return ServiceError("AccessDenied", "Access Denied", 403)


def parse_policy(text: str, bucket: str) -> dict[str, Any]:
    try:
        doc = json.loads(text)
    except ValueError:
        raise ServiceError("MalformedPolicy", "Policies must be valid JSON and the first byte must be '{'", 400)
    if not isinstance(doc, dict) or not doc.get("Statement"):
        raise ServiceError("MalformedPolicy", "Missing required field Statement", 400)
    statements = doc["Statement"] if isinstance(doc["Statement"], list) else [doc["Statement"]]
    for st in statements:
        if st.get("Effect") not in ("Allow", "Deny"):
            raise ServiceError("MalformedPolicy", "Invalid effect", 400)
        for res in _list(st.get("Resource")):
            if not res.startswith(f"arn:aws:s3:::{bucket}"):
                raise ServiceError("MalformedPolicy", "Policy has invalid resource", 400)
    return doc


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _public_principal(principal: Any) -> bool:
    if principal == "*":
        return True
    return isinstance(principal, dict) and "*" in _list(principal.get("AWS"))


def is_public_policy(doc: dict[str, Any]) -> bool:
    return any(st.get("Effect") == "Allow" and _public_principal(st.get("Principal")) and not st.get("Condition")
               for st in _list(doc.get("Statement")))


def _policy_decision(doc: dict[str, Any], action: str, resource: str) -> str | None:
    decision = None
    for st in _list(doc.get("Statement")):
        if not _public_principal(st.get("Principal")):
            continue
        if not any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in _list(st.get("Action"))):
            continue
        if not any(fnmatch.fnmatchcase(resource, r) for r in _list(st.get("Resource"))):
            continue
        if st.get("Condition"):
            continue  # conditions are not evaluated: such a statement grants nothing to anonymous callers
        if st.get("Effect") == "Deny":
            return "Deny"
        decision = "Allow"
    return decision


def check_anonymous(service: S3Service, ctx: RequestContext, operation: str, bucket: str | None,
                    key: str | None) -> None:
    if bucket is None:
        raise access_denied()
    row = service.bucket_row(bucket)
    if row is None:
        return  # NoSuchBucket is what AWS reports for a missing bucket, even anonymously
    pab = row.config.get("pab") or {}
    action = ACTIONS.get(operation, f"s3:{operation}")
    resource = f"arn:aws:s3:::{bucket}" + (f"/{key}" if key is not None else "")
    if row.config.get("policy") and not pab.get("RestrictPublicBuckets"):
        decision = _policy_decision(json.loads(row.config["policy"]), action, resource)
        if decision == "Deny":
            raise access_denied()
        if decision == "Allow":
            return
    if not pab.get("IgnorePublicAcls"):
        if operation in LIST_OPS and row.acl in ("public-read", "public-read-write"):
            return
        if operation in WRITE_OPS and key is not None and row.acl == "public-read-write":
            return
        if operation in READ_OPS and key is not None:
            obj = service.find_object(bucket, key, None)
            if obj is not None and (obj.meta.get("ACL") or "") in ("public-read", "public-read-write"):
                return
    raise access_denied()


def grants(acl: str, owner: dict[str, str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"Grantee": {**owner, "Type": "CanonicalUser"}, "Permission": "FULL_CONTROL"}]
    all_users = {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"}
    if acl in ("public-read", "public-read-write"):
        out.append({"Grantee": all_users, "Permission": "READ"})
    if acl == "public-read-write":
        out.append({"Grantee": all_users, "Permission": "WRITE"})
    if acl == "authenticated-read":
        out.append({"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"},
                    "Permission": "READ"})
    return out
