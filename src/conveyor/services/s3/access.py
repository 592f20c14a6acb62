"""Bucket access settings: bucket policy, Public Access Block, Object Ownership and (canned) ACLs.

Since April 2023 a new bucket has all four Block Public Access settings on and Object Ownership
`BucketOwnerEnforced`, which disables ACLs; a bucket is made public by turning Block Public Access off
and writing a bucket policy (https://aws.amazon.com/about-aws/whats-new/2022/12/amazon-s3-automatically-enable-block-public-access-disable-access-control-lists-buckets-april-2023/,
https://docs.aws.amazon.com/AmazonS3/latest/userguide/about-object-ownership.html). With ACLs disabled,
a request that sets an ACL fails with AccessControlListNotSupported, except a PUT naming the
`bucket-owner-full-control` canned ACL; reading ACLs still works and shows the owner's full control
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-ownership-error-responses.html).
Buckets created before this default (an older data directory) keep the settings they had: none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypedDict

from conveyor.services.s3 import acl, cross_account, policy
from conveyor.services.s3.core import Core
from conveyor.services.s3.errors import malformed_xml
from conveyor.services.s3.schema import BucketRow
from conveyor.services.s3.versions import Versions
from conveyor.wire import RequestContext, ServiceError

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import (
        CreateBucketRequestTypeDef,
        DeleteBucketOwnershipControlsRequestTypeDef,
        DeleteBucketPolicyRequestTypeDef,
        DeletePublicAccessBlockRequestTypeDef,
        GetBucketAclRequestTypeDef,
        GetBucketOwnershipControlsRequestTypeDef,
        GetBucketPolicyRequestTypeDef,
        GetObjectAclRequestTypeDef,
        GetPublicAccessBlockRequestTypeDef,
        PutBucketAclRequestTypeDef,
        PutBucketOwnershipControlsRequestTypeDef,
        PutBucketPolicyRequestTypeDef,
        PutObjectAclRequestTypeDef,
        PutPublicAccessBlockRequestTypeDef,
    )
    from typing_extensions import ReadOnly

    class AclSettings(TypedDict, total=False):
        """The ACL a request asks for: a canned one, or grants (a bucket's may also grant WRITE)."""

        ACL: ReadOnly[str | None]
        GrantFullControl: ReadOnly[str]
        GrantRead: ReadOnly[str]
        GrantReadACP: ReadOnly[str]
        GrantWriteACP: ReadOnly[str]

ENFORCED = "BucketOwnerEnforced"
OWNERSHIPS = (ENFORCED, "BucketOwnerPreferred", "ObjectWriter")
PAB_SETTINGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
CANNED = ("private", "public-read", "public-read-write", "authenticated-read")
OBJECT_CANNED = (*CANNED, "aws-exec-read", "bucket-owner-read", "bucket-owner-full-control")


def acl_not_supported() -> ServiceError:
    return ServiceError("AccessControlListNotSupported", "The bucket does not allow ACLs", 400)


def acl_with_enforced() -> ServiceError:
    return ServiceError("InvalidBucketAclWithObjectOwnership",
                        "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting", 400)


_NOBODY: dict[str, str] = {"ID": ""}  # an owner for reading grants whose owner does not matter


def acls_disabled(row: BucketRow) -> bool:
    return row.config.get("ownership") == ENFORCED


def new_bucket_config(params: CreateBucketRequestTypeDef) -> dict[str, Any]:
    """The access settings of a bucket being created: today's defaults, or the Object Ownership asked for."""
    ownership = params.get("ObjectOwnership") or ENFORCED
    if ownership not in OWNERSHIPS:
        raise ServiceError("InvalidArgument", "Invalid x-amz-object-ownership header: " + str(ownership), 400,
                           extra={"ArgumentName": "x-amz-object-ownership", "ArgumentValue": str(ownership)})
    value = new_bucket_acl(params)
    if ownership == ENFORCED and value != "private":
        raise acl_with_enforced()
    if acl.is_public(acl.grants_of(value, _NOBODY)):
        # Block Public Access is on from the start: a public ACL can only come after turning it off.
        raise ServiceError("InvalidBucketAclWithBlockPublicAccessError",
                           "Bucket cannot have public ACLs set with BlockPublicAccess enabled", 400)
    return {"pab": dict.fromkeys(PAB_SETTINGS, True), "ownership": ownership}


def new_bucket_acl(params: Mapping[str, Any]) -> str | dict[str, Any]:
    """The ACL a CreateBucket asks for: canned, by grant headers, or `private`."""
    return acl.requested(params, CANNED) or "private"


def _public_refused(row: BucketRow, value: str | dict[str, Any]) -> None:
    """Block Public Access's BlockPublicAcls refuses a public ACL (with a 403, as for a public policy)."""
    if (row.config.get("pab") or {}).get("BlockPublicAcls") and acl.is_public(acl.grants_of(value, _NOBODY)):
        raise ServiceError("AccessDenied", "Access Denied", 403)


def check_write_acl(row: BucketRow, params: AclSettings) -> None:
    """The ACL a PUT, copy, multipart upload or POST asks for (canned or by grant headers): allowed by
    Object Ownership and Public Access Block. The object's metadata keeps it (conveyor.services.s3.metadata)."""
    if acls_disabled(row):
        if acl.header_grants(params) or params.get("ACL") not in (None, "bucket-owner-full-control"):
            raise acl_not_supported()
        return
    value = acl.requested(params, OBJECT_CANNED)
    if value is not None:
        _public_refused(row, value)


class AccessOperations:
    """The bucket policy, Public Access Block, Object Ownership and ACL operations."""

    def __init__(self, core: Core, versions: Versions) -> None:
        self.core = core
        self.versions = versions

    # bucket policy ------------------------------------------------------------------------------
    async def PutBucketPolicy(self, ctx: RequestContext,
                              params: PutBucketPolicyRequestTypeDef) -> dict[str, Any]:
        name = params["Bucket"]
        row = self.core.require_bucket(name)
        doc = policy.parse_policy(params.get("Policy") or "", name)
        if (row.config.get("pab") or {}).get("BlockPublicPolicy") and policy.is_public_policy(doc):
            raise ServiceError("AccessDenied", "Access Denied", 403)
        await self.core.update_setting(name, "policy", params["Policy"])
        return {"__status": 204}

    async def GetBucketPolicy(self, ctx: RequestContext,
                              params: GetBucketPolicyRequestTypeDef) -> dict[str, Any]:
        text = self.core.get_setting(params["Bucket"], "policy", "NoSuchBucketPolicy",
                                     "The bucket policy does not exist")
        return {"Policy": text}

    async def DeleteBucketPolicy(self, ctx: RequestContext,
                                 params: DeleteBucketPolicyRequestTypeDef) -> dict[str, Any]:
        self.core.require_bucket(params["Bucket"])
        await self.core.update_setting(params["Bucket"], "policy", None)
        return {"__status": 204}

    # Public Access Block --------------------------------------------------------------------------
    async def PutPublicAccessBlock(self, ctx: RequestContext,
                                   params: PutPublicAccessBlockRequestTypeDef) -> dict[str, Any]:
        conf = params.get("PublicAccessBlockConfiguration") or {}
        if not any(name in conf for name in PAB_SETTINGS):
            # https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutPublicAccessBlock.html
            raise ServiceError("InvalidRequest", "Must specify at least one configuration.", 400)
        # A setting left out is off (false), as AWS stores it.
        await self.core.update_setting(params["Bucket"], "pab", {k: bool(conf.get(k)) for k in PAB_SETTINGS})
        return {}

    async def GetPublicAccessBlock(self, ctx: RequestContext,
                                   params: GetPublicAccessBlockRequestTypeDef) -> dict[str, Any]:
        conf = self.core.get_setting(params["Bucket"], "pab", "NoSuchPublicAccessBlockConfiguration",
                                     "The public access block configuration was not found")
        return {"PublicAccessBlockConfiguration": conf}

    async def DeletePublicAccessBlock(self, ctx: RequestContext,
                                      params: DeletePublicAccessBlockRequestTypeDef) -> dict[str, Any]:
        self.core.require_bucket(params["Bucket"])
        await self.core.update_setting(params["Bucket"], "pab", None)
        return {"__status": 204}

    # Object Ownership -----------------------------------------------------------------------------
    async def PutBucketOwnershipControls(self, ctx: RequestContext,
                                         params: PutBucketOwnershipControlsRequestTypeDef) -> dict[str, Any]:
        name = params["Bucket"]
        row = self.core.require_bucket(name)
        rules = (params.get("OwnershipControls") or {}).get("Rules") or []
        if len(rules) != 1 or rules[0].get("ObjectOwnership") not in OWNERSHIPS:
            raise malformed_xml()
        ownership = rules[0]["ObjectOwnership"]
        if ownership == ENFORCED and not acl.owner_only(acl.grants_of(row.acl, self.core.owner()), self.core.owner()):
            # ACLs granting others access must be moved to the bucket policy first.
            raise acl_with_enforced()
        await self.core.update_setting(name, "ownership", ownership)
        return {}

    async def GetBucketOwnershipControls(self, ctx: RequestContext,
                                         params: GetBucketOwnershipControlsRequestTypeDef) -> dict[str, Any]:
        ownership = self.core.get_setting(params["Bucket"], "ownership", "OwnershipControlsNotFoundError",
                                          "The bucket ownership controls were not found")
        return {"OwnershipControls": {"Rules": [{"ObjectOwnership": ownership}]}}

    async def DeleteBucketOwnershipControls(self, ctx: RequestContext,
                                            params: DeleteBucketOwnershipControlsRequestTypeDef) -> dict[str, Any]:
        self.core.require_bucket(params["Bucket"])
        await self.core.update_setting(params["Bucket"], "ownership", None)
        return {"__status": 204}

    # ACLs -----------------------------------------------------------------------------------------
    async def PutBucketAcl(self, ctx: RequestContext, params: PutBucketAclRequestTypeDef) -> dict[str, Any]:
        """A canned ACL, grant headers or an AccessControlPolicy document, on a bucket whose ACLs are enabled.
        https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketAcl.html"""
        name = params["Bucket"]
        row = self.core.require_bucket(name)
        if acls_disabled(row):
            raise acl_not_supported()
        value = self._requested(params, CANNED)
        _public_refused(row, value)
        await self.core.store.set_acl(name, acl.stored(value))
        return {}

    @staticmethod
    def _requested(params: PutBucketAclRequestTypeDef | PutObjectAclRequestTypeDef,
                   canned: tuple[str, ...]) -> str | dict[str, Any]:
        value = acl.requested(params, canned)
        document = params.get("AccessControlPolicy")
        if document is not None:
            if value is not None:
                raise ServiceError("UnexpectedContent", "This request does not support content", 400)
            return {"Grants": acl.body_grants(document)}
        if value is None:
            raise ServiceError("MissingSecurityHeader", "Your request was missing a required header", 400,
                               extra={"MissingHeaderName": "x-amz-acl"})
        return value

    async def GetBucketAcl(self, ctx: RequestContext, params: GetBucketAclRequestTypeDef) -> dict[str, Any]:
        row = self.core.require_bucket(params["Bucket"])
        value = "private" if acls_disabled(row) else row.acl
        return {"Owner": self.core.owner(), "Grants": acl.grants_of(value, self.core.owner())}

    async def PutObjectAcl(self, ctx: RequestContext, params: PutObjectAclRequestTypeDef) -> dict[str, Any]:
        """https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObjectAcl.html"""
        row = self.core.require_bucket(params["Bucket"])
        if acls_disabled(row):
            raise acl_not_supported()
        value = self._requested(params, OBJECT_CANNED)
        _public_refused(row, value)
        obj = await self.versions.set_meta(ctx, params["Bucket"], params["Key"], params.get("VersionId"), "ACL", value,
                                           "s3:ObjectAcl:Put")
        return {"VersionId": obj.version_id} if obj.version_id != "null" else {}

    async def GetObjectAcl(self, ctx: RequestContext, params: GetObjectAclRequestTypeDef) -> dict[str, Any]:
        row = self.core.require_bucket(params["Bucket"])
        obj = self.core.current_object(params["Bucket"], params["Key"], params.get("VersionId"))
        value = "private" if acls_disabled(row) else obj.meta.get("ACL") or "private"
        # An object another account wrote and owns (conveyor.services.s3.cross_account) shows its owner.
        owner = cross_account.owner_of(self.core, row, obj.meta)
        out: dict[str, Any] = {"Owner": owner, "Grants": acl.grants_of(value, owner, self.core.owner())}
        if obj.version_id != "null":
            out["VersionId"] = obj.version_id
        return out
