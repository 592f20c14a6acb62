"""Requests signed by another account, judged as S3 judges them: by the bucket policy and, where Object
Ownership leaves ACLs enabled, by the grants of the bucket's and the object's ACLs; nothing else.

Another account's caller comes from the gateway (conveyor.gateway.access: with `--auth off`, an access
key ID of 12 digits is that account's root user). Its root user needs nothing on its own side, so the
bucket owner's side decides (https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-policy-alternatives-guidelines.html):
- an explicit Deny in the bucket policy refuses (judged for every caller: conveyor.services.s3.api);
- a bucket policy statement allowing the account (or everyone, unless Block Public Access's
  RestrictPublicBuckets restricts public policies to the owner's account) allows;
- an ACL grant to the account's canonical user id, to AuthenticatedUsers or to AllUsers (the last two
  unless IgnorePublicAcls) allows what its permission maps to
  (https://docs.aws.amazon.com/AmazonS3/latest/userguide/acl-overview.html#acl-access-policy-permission-mapping):
  READ on the bucket lists it, WRITE on the bucket writes and deletes its objects, READ on an object
  reads it, READ_ACP/WRITE_ACP read and write the ACL they are on, FULL_CONTROL all of these;
- e-mail grantees are no longer resolved by S3 (conveyor.services.s3.acl refuses them).
Buckets belong to the configured account: another account lists none of its own and creates none.
An object another account writes where Object Ownership is ObjectWriter (or BucketOwnerPreferred without
the bucket-owner-full-control ACL) is that account's: its own ACL grants it full control. The bucket owner's
account may delete it, but reads it, its ACL, or changes its ACL only as that ACL grants the bucket owner
(`bucket-owner-read`, `bucket-owner-full-control`, a grant to its canonical id or to everyone): "object ACLs
are the only way to grant access to objects that are not owned by the bucket owner"
(https://repost.aws/knowledge-center/s3-object-acl-use-cases,
https://docs.aws.amazon.com/AmazonS3/latest/userguide/acls.html: "permissions to these objects can only be
managed using object ACL by the AWS account that owns the object"). Bucket owner enforced makes the bucket
owner the owner of every object again (https://docs.aws.amazon.com/AmazonS3/latest/userguide/about-object-ownership.html).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from conveyor import resource_policy
from conveyor.authz import Need
from conveyor.services.s3 import acl, iam
from conveyor.services.s3.policy import access_denied, is_public_policy
from conveyor.services.s3.schema import BucketRow, ObjectRow
from conveyor.wire import Caller, RequestContext

if TYPE_CHECKING:
    from conveyor.services.s3.core import Core

# IAM action -> (the ACL permission that grants it, whether that grant is on the object rather than the bucket)
_PERMISSIONS = {
    "s3:ListBucket": ("READ", False), "s3:ListBucketVersions": ("READ", False),
    "s3:ListBucketMultipartUploads": ("READ", False),
    "s3:GetBucketAcl": ("READ_ACP", False), "s3:PutBucketAcl": ("WRITE_ACP", False),
    "s3:PutObject": ("WRITE", False), "s3:DeleteObject": ("WRITE", False), "s3:DeleteObjectVersion": ("WRITE", False),
    "s3:AbortMultipartUpload": ("WRITE", False), "s3:ListMultipartUploadParts": ("WRITE", False),
    "s3:GetObject": ("READ", True), "s3:GetObjectVersion": ("READ", True),
    "s3:GetObjectAcl": ("READ_ACP", True), "s3:GetObjectVersionAcl": ("READ_ACP", True),
    "s3:PutObjectAcl": ("WRITE_ACP", True), "s3:PutObjectVersionAcl": ("WRITE_ACP", True),
}
_OWNED_BY_WRITER = ("ObjectWriter", "BucketOwnerPreferred")
# The operations whose needs include one an object's ACL decides (the reads, the ACL's, a copy's source).
# Operations of the bucket owner's account judged by check_bucket_owner before they run; GetObject and HeadObject
# judge the version they answer with, read once (check_owner_reads).
OWNER_CHECKED = frozenset({"GetObjectAcl", "PutObjectAcl", "CopyObject", "UploadPartCopy"})


def canonical_id(account: str) -> str:
    """An account's canonical user id, as S3 shows owners and takes `id=` grantees (Core.owner_id's rule)."""
    return hashlib.sha256(account.encode()).hexdigest()


def other_account(ctx: RequestContext, own_account: str) -> Caller | None:
    """The signed caller when it belongs to another account than the buckets' owner."""
    caller = ctx.principal
    if not ctx.authenticated or caller is None or caller.account_id == own_account:
        return None
    return caller


def writer_owner(caller: Caller | None, row: BucketRow, meta: Mapping[str, Any]) -> str | None:
    """The canonical id of the object's owner when another account (`caller`) writes it and keeps it (Object
    Ownership ObjectWriter, or BucketOwnerPreferred without bucket-owner-full-control); None: the bucket
    owner's. https://docs.aws.amazon.com/AmazonS3/latest/userguide/about-object-ownership.html"""
    ownership = row.config.get("ownership")
    if caller is None or ownership not in _OWNED_BY_WRITER:
        return None
    if ownership == "BucketOwnerPreferred" and meta.get("ACL") == "bucket-owner-full-control":
        return None
    return canonical_id(caller.account_id)


def owner_of(core: Core, row: BucketRow | None, meta: Mapping[str, Any]) -> dict[str, str]:
    """An object's owner as S3 shows it: the account that wrote and keeps it, else (and always where Bucket
    owner enforced disables ACLs) the bucket owner."""
    other = meta.get("Owner")
    if not other or (row is not None and row.config.get("ownership") == "BucketOwnerEnforced"):
        return core.owner()
    return {"ID": str(other)}


def check(core: Core, ctx: RequestContext, caller: Caller, operation: str, params: Mapping[str, Any]) -> None:
    """AccessDenied unless the bucket's policy or ACLs let the other account make the request."""
    if operation == "ListBuckets":
        return  # answered with the caller's own buckets: none (conveyor.services.s3.buckets)
    bucket = params.get("Bucket")
    if not isinstance(bucket, str) or operation == "CreateBucket":
        raise access_denied()
    check_needs(core, caller, iam.needs(operation, params, f"s3:{operation}"))


def check_needs(core: Core, caller: Caller, needs: list[Need]) -> None:
    """`check` for needs S3 names itself (a browser form's upload, a missing key's s3:ListBucket)."""
    for need in needs:
        if not _allowed(core, caller, need):
            raise access_denied()


def check_bucket_owner(core: Core, needs: list[Need]) -> None:
    """AccessDenied when the bucket owner's account (its root or its users) reads, or reads or writes the ACL
    of, an object another account owns whose ACL grants the bucket owner nothing of the kind."""
    for need in needs:
        permission, on_object = _PERMISSIONS.get(need.action, (None, False))
        if permission is None or not on_object:
            continue
        bucket, _, key = need.resource.removeprefix("arn:aws:s3:::").partition("/")
        row = core.store.bucket(bucket)
        if row is None or row.config.get("ownership") == "BucketOwnerEnforced":
            continue  # ACLs disabled: the bucket owner owns every object
        version = (need.context or {}).get("s3:VersionId")
        found = core.store.object(bucket, key, version if isinstance(version, str) and version else None)
        _check_owner_grants(core, row, found, permission)


def check_owner_reads(core: Core, ctx: RequestContext, row: BucketRow, found: ObjectRow) -> None:
    """check_bucket_owner for GetObject and HeadObject, on the version they read to answer with: AccessDenied
    when the bucket owner's account reads an object another account owns whose ACL does not grant it READ."""
    if (ctx.authenticated and row.config.get("ownership") != "BucketOwnerEnforced"
            and other_account(ctx, core.account_id) is None):
        _check_owner_grants(core, row, found, "READ")


def _check_owner_grants(core: Core, row: BucketRow, found: ObjectRow | None, permission: str) -> None:
    owner = found.meta.get("Owner") if found is not None and not found.delete_marker else None
    if not owner or owner == core.owner_id:
        return  # the bucket owner's own object, or one the operation itself answers for (NoSuchKey...)
    grants = acl.grants_of(found.meta.get("ACL") if found is not None else None, {"ID": str(owner)}, core.owner())
    if not _granted(grants, core.owner_id, permission, bool((row.config.get("pab") or {}).get("IgnorePublicAcls"))):
        raise access_denied()


def _allowed(core: Core, caller: Caller, need: Need) -> bool:
    bucket, _, key = need.resource.removeprefix("arn:aws:s3:::").partition("/")
    row = core.store.bucket(bucket)
    if row is None:
        return True  # NoSuchBucket is the answer, as for anyone
    pab = row.config.get("pab") or {}
    text = row.config.get("policy")
    if isinstance(text, str) and text:
        document = resource_policy.parse(text)
        request = resource_policy.Request(action=need.action, resource=need.resource,
                                          principal=f"arn:aws:iam::{caller.account_id}:root",
                                          context={k: v for k, v in (need.context or {}).items()
                                                   if isinstance(v, str)})
        decision = resource_policy.decide(document, request)
        if decision == "Deny":
            return False
        if decision == "Allow" and not (pab.get("RestrictPublicBuckets") and isinstance(document, dict)
                                        and is_public_policy(document)):
            return True
    if row.config.get("ownership") == "BucketOwnerEnforced":
        return False  # ACLs are disabled: the policy alone decides
    permission, on_object = _PERMISSIONS.get(need.action, (None, False))
    if permission is None:
        return False
    if on_object:
        found = core.store.object(bucket, key)
        if found is None:
            return False
        owner = {"ID": str(found.meta.get("Owner") or core.owner_id)}
        grants = acl.grants_of(found.meta.get("ACL"), owner, core.owner())
    else:
        grants = acl.grants_of(row.acl, core.owner())
    return _granted(grants, canonical_id(caller.account_id), permission, bool(pab.get("IgnorePublicAcls")))


def _granted(grants: list[dict[str, Any]], me: str, permission: str, ignore_public: bool) -> bool:
    groups = () if ignore_public else (acl.ALL_USERS, acl.AUTHENTICATED_USERS)
    for grant in grants:
        grantee = grant["Grantee"]
        if grant["Permission"] not in (permission, "FULL_CONTROL"):
            continue
        if grantee.get("ID") == me or grantee.get("URI") in groups:
            return True
    return False
